//! A product as schema.org structured data (JSON-LD), for the storefront to put in its page so
//! search engines show price and stock.

use serde_json::{Value, json};
use shop_domain::Product;
use shop_platform::config::StorefrontSettings;

/// The schema.org `Product` of `product`, with one `Offer` per variant; `brand` is the product's
/// own brand or the store's name.
pub fn product_json_ld(product: &Product, brand: &str, storefront: &StorefrontSettings) -> Value {
    let url = storefront.product_url(&product.slug);
    let offers: Vec<Value> = product
        .variants
        .iter()
        .map(|variant| {
            let availability = if variant.available > 0 {
                "https://schema.org/InStock"
            } else {
                "https://schema.org/OutOfStock"
            };
            json!({
                "@type": "Offer",
                "sku": variant.sku,
                "price": variant.price.decimal(),
                "priceCurrency": variant.price.currency.as_str().to_ascii_uppercase(),
                "availability": availability,
                "itemCondition": "https://schema.org/NewCondition",
                "url": url,
            })
        })
        .collect();
    json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "image": product.images.iter().map(|image| storefront.image_url(image)).collect::<Vec<_>>(),
        "description": product.description,
        "sku": product.id,
        "brand": {"@type": "Brand", "name": brand},
        "url": url,
        "offers": offers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_platform::config::Env;
    use std::collections::HashMap;

    /// A storefront at https://shop.example.
    fn storefront() -> StorefrontSettings {
        let env = Env::from_map(HashMap::from([(
            "STOREFRONT_URL".to_owned(),
            "https://shop.example".to_owned(),
        )]));
        StorefrontSettings::from_env(&env).unwrap()
    }

    #[test]
    fn each_variant_is_an_offer_priced_in_major_units() {
        let storefront = storefront();
        let product = Product::from_json(
            json!({
                "id": "tee", "slug": "organic-tee", "title": "Organic Tee", "category": "apparel",
                "variants": [
                    {"sku": "TEE-M", "price": {"amount": 2500, "currency": "usd"}, "available": 0}
                ]
            }),
            shop_domain::Currency::parse("usd").unwrap(),
        )
        .unwrap();
        let ld = product_json_ld(&product, "Shop", &storefront);
        assert_eq!(ld["@type"], "Product");
        assert_eq!(ld["offers"][0]["price"], "25.00");
        assert_eq!(ld["offers"][0]["priceCurrency"], "USD");
        assert_eq!(ld["offers"][0]["availability"], "https://schema.org/OutOfStock");
        assert_eq!(ld["offers"][0]["url"], "https://shop.example/products/organic-tee");
    }

    #[test]
    fn the_shops_own_images_are_given_on_the_storefront_and_others_as_they_are() {
        let storefront = storefront();
        let product = Product::from_json(
            json!({
                "id": "tee", "slug": "organic-tee", "title": "Organic Tee", "category": "apparel",
                "images": ["/images/organic-tee-1-640.webp", "https://cdn.example/tee.jpg"],
                "variants": [
                    {"sku": "TEE-M", "price": {"amount": 2500, "currency": "usd"}, "available": 1}
                ]
            }),
            shop_domain::Currency::parse("usd").unwrap(),
        )
        .unwrap();
        let ld = product_json_ld(&product, "Shop", &storefront);
        assert_eq!(
            ld["image"],
            json!([
                "https://shop.example/images/organic-tee-1-640.webp",
                "https://cdn.example/tee.jpg"
            ])
        );
    }
}
