// A storefront's use of the typed client: it compiles only while openapi.yaml describes these
// routes and fields as written here (`make lint` runs `tsc --noEmit` on it).
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

type Cart = components['schemas']['Cart'];
type Money = components['schemas']['Money'];

export const shop = createClient<paths>({ baseUrl: 'http://127.0.0.1:3000' });

export function formatMoney(money: Money): string {
  return `${(money.amount / 100).toFixed(2)} ${money.currency.toUpperCase()}`;
}

export async function addToCart(sku: string, quantity: number): Promise<Cart> {
  const created = await shop.POST('/carts');
  if (!created.data) throw new Error(created.error?.detail ?? 'no cart');
  const { cart_id, cart_token } = created.data;
  const { data, error } = await shop.PUT('/carts/{cart_id}/items/{sku}', {
    params: { path: { cart_id, sku } },
    headers: { Authorization: `Bearer ${cart_token}` },
    body: { quantity },
  });
  if (error) throw new Error(`${error.code}: ${error.detail}`);
  return data;
}

export async function firstPage(category?: string): Promise<string[]> {
  const { data } = await shop.GET('/products', { params: { query: { category, limit: 20 } } });
  return (data?.items ?? []).map((item) => `${item.title}: ${formatMoney(item.price_from)}`);
}
