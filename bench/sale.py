#!/usr/bin/env python3
"""Flash sale: many shoppers check out at once for the last units of one variant.

Runs inside a local stack (`python3 infra/local/stack.py run -- python3 bench/sale.py`). It
imports a fresh product with one variant of UNITS in stock, gives each of SHOPPERS shoppers a
cart holding one unit (all carts are filled before the first checkout, so the checkouts compete
for the stock, not the carts), then fires every checkout through a pool of CONCURRENCY threads.
Afterwards it reads what happened from the source of truth, not from the answers: the variant's
stock item in DynamoDB (the emulator's JSON API, strongly consistent), the product page, and
every order the admin routes list. Oversold means more units in orders than there were, or stock
below zero.

Writes bench/sale.json, prints one line, and exits non-zero when anything was oversold or any
answer was a 5xx. Env: BENCH_SALE_UNITS (100), BENCH_SALE_SHOPPERS (1000),
BENCH_SALE_CONCURRENCY (16), BENCH_SALE_DEADLINE (seconds for the whole run, 420).
Standard library only.
"""

import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

API = os.environ["SHOP_API_URL"]
ADMIN = {"Authorization": f"Bearer {os.environ['SHOP_ADMIN_TOKEN']}"}
DYNAMODB = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
TABLE = os.environ.get("SHOP_TABLE", "shop-ShopTable")
UNITS = int(os.environ.get("BENCH_SALE_UNITS", 100))
SHOPPERS = int(os.environ.get("BENCH_SALE_SHOPPERS", 1000))
CONCURRENCY = int(os.environ.get("BENCH_SALE_CONCURRENCY", 16))
DEADLINE_S = float(os.environ.get("BENCH_SALE_DEADLINE", 420))
# Far above what a checkout takes (under a second at p99 on DynamoDB Local).
CALL_TIMEOUT_S = 60.0
OUT = Path(__file__).resolve().parent / "sale.json"
STATUSES = ("pending_payment", "paid", "fulfilling", "shipped", "delivered", "cancelled",
            "refunded", "partially_refunded", "return_requested", "returned")
SOLD_OUT_CODES = {"insufficient_stock", "sold_out"}
STARTED = time.monotonic()
DEADLINE = STARTED + DEADLINE_S


class Transport(Exception):
    """No HTTP answer: refused, reset, timed out."""


class Deadline(Exception):
    """The whole run took longer than DEADLINE_S."""


def left():
    remaining = DEADLINE - time.monotonic()
    if remaining <= 0:
        raise Deadline(f"the run's deadline of {DEADLINE_S:.0f} s has passed")
    return remaining


def shopper_address(i):
    """Shopper i's own loopback address (127.1.0.0/16): the shop limits checkout holds per source
    address, and a sale's shoppers come from as many places as there are shoppers."""
    return f"127.1.{i // 250}.{i % 250 + 1}"


def opener_from(address):
    """A urllib opener whose connections leave from `address`."""

    class FromAddress(urllib.request.HTTPHandler):
        def http_open(self, request):
            return self.do_open(
                lambda host, **kwargs: http.client.HTTPConnection(host, source_address=(address, 0), **kwargs),
                request,
            )

    return urllib.request.build_opener(FromAddress)


def call(method, url, body=None, headers=None, source=None):
    """(status, JSON body or text), from the address `source` when given; a transport failure
    raises Transport."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    timeout = min(CALL_TIMEOUT_S, left())
    try:
        open_url = opener_from(source).open if source else urllib.request.urlopen
        with open_url(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        raise Transport(f"{method} {url}: {error!r}") from error
    try:
        return status, json.loads(text) if text[:1] in ("{", "[") else text
    except ValueError:
        return status, text


def code_of(answer):
    return answer.get("code", "?") if isinstance(answer, dict) else "?"


def shopper_cart(i, sku):
    """A cart holding one unit: ("ok", cart) or (outcome, detail)."""
    try:
        status, cart = call("POST", f"{API}/carts", source=shopper_address(i))
        if status != 201:
            return ("5xx" if status >= 500 else "cart_4xx", f"cart {code_of(cart)}")
        auth = {"Authorization": f"Bearer {cart['cart_token']}"}
        status, answer = call(
            "PUT", f"{API}/carts/{cart['cart_id']}/items/{sku}", {"quantity": 1}, auth, source=shopper_address(i)
        )
    except Transport as error:
        return "error", str(error)
    if status == 200:
        return "ok", cart
    if status == 409 and code_of(answer) in SOLD_OUT_CODES:
        return "refused_at_cart", code_of(answer)
    return ("5xx" if status >= 500 else "cart_4xx", f"cart line {code_of(answer)}")


def checkout(i, cart, run):
    body = {
        "cart_id": cart["cart_id"], "cart_token": cart["cart_token"],
        "email": f"shopper{i}.{run}@example.com", "shipping_method": "standard",
        "shipping_address": {"name": f"Shopper {i}", "line1": "1 Analytical Way", "city": "San Francisco",
                             "region": "CA", "postal_code": "94105", "country": "US"},
    }
    headers = {"Idempotency-Key": f"{run}-shopper-{i}"}
    start = time.perf_counter()
    try:
        status, answer = call("POST", f"{API}/checkout", body, headers, source=shopper_address(i))
    except Transport as error:
        return None, (time.perf_counter() - start) * 1000, str(error)
    return status, (time.perf_counter() - start) * 1000, answer


def through_pool(pool, fn, args):
    """fn(*a) for every a, in the pool, results in order; fails clearly at the deadline."""
    futures = [pool.submit(fn, *a) for a in args]
    try:
        _, pending = concurrent.futures.wait(futures, timeout=left())
    except Deadline:
        pending = [f for f in futures if not f.done()]
    if pending:
        pool.shutdown(wait=False, cancel_futures=True)
        print(f"sale: FAILED: the run's deadline of {DEADLINE_S:.0f} s passed with {len(pending)} of "
              f"{len(futures)} {fn.__name__} calls unfinished", file=sys.stderr, flush=True)
        os._exit(3)  # without waiting for the calls in flight
    return [f.result() for f in futures]


def stock_item(product_id, sku):
    """The variant's `available` as DynamoDB holds it (DynamoDB Local checks no signature)."""
    request = urllib.request.Request(
        DYNAMODB, method="POST",
        data=json.dumps({"TableName": TABLE, "ConsistentRead": True,
                         "Key": {"pk": {"S": f"PRODUCT#{product_id}"}, "sk": {"S": f"VARIANT#{sku}"}}}).encode(),
        headers={"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=min(CALL_TIMEOUT_S, left())) as response:
        item = json.loads(response.read()).get("Item")
    if not item:
        raise SystemExit(f"sale: the stock item of {sku} is not in DynamoDB")
    return int(item["available"]["N"])


def orders_holding(sku):
    """(orders, units) of `sku` in every order the store has, in any status."""
    orders = units = 0
    for status in STATUSES:
        cursor = None
        while True:
            query = {"status": status, "limit": 100} | ({"cursor": cursor} if cursor else {})
            code, page = call("GET", f"{API}/admin/orders?{urllib.parse.urlencode(query)}", headers=ADMIN)
            if code != 200:
                raise SystemExit(f"sale: GET /admin/orders?status={status} answered {code}: {page}")
            for order in page["items"]:
                mine = sum(line["quantity"] for line in order["lines"] if line["sku"] == sku)
                orders, units = orders + (mine > 0), units + mine
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return orders, units


def ms(values):
    if not values:
        return {"p50": None, "p99": None, "max": None}
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]
    return {"p50": round(statistics.median(values), 1), "p99": round(p99, 1), "max": round(max(values), 1)}


def main():
    run = f"sale-{int(time.time())}-{os.getpid()}"
    product_id, sku = run, f"SALE-{int(time.time())}-{os.getpid()}"
    product = {
        "id": product_id, "slug": product_id, "title": "Flash Sale Lamp", "description": "The last units.",
        "category": "bench", "tags": [], "images": [], "attributes": {},
        "variants": [{"sku": sku, "options": {}, "price": {"amount": 4900, "currency": "usd"}, "available": UNITS}],
    }
    status, report = call("POST", f"{API}/admin/products/import", {"products": [product]}, ADMIN)
    if status != 200 or report.get("errors"):
        raise SystemExit(f"sale: importing the product failed ({status}): {report}")

    other_4xx, outcomes = Counter(), Counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        # Every shopper's cart holds its unit before the first checkout starts.
        carts = through_pool(pool, shopper_cart, [(i, sku) for i in range(SHOPPERS)])
        ready = []
        for i, (outcome, detail) in enumerate(carts):
            if outcome == "ok":
                ready.append((i, detail))
            else:
                outcomes[outcome] += 1
                if outcome == "cart_4xx":
                    other_4xx[detail] += 1
                elif outcome in ("5xx", "error"):
                    print(f"sale: shopper {i}'s cart: {outcome}: {detail}", file=sys.stderr)
        carts_s = time.monotonic() - STARTED
        print(f"sale: {len(ready)} carts ready in {carts_s:.1f} s; checking out", file=sys.stderr, flush=True)
        sale_started = time.monotonic()
        results = through_pool(pool, checkout, [(i, cart, run) for i, cart in ready])
        sale_s = time.monotonic() - sale_started

    latencies, by_status = [], {}
    for status, latency, answer in results:
        if status is None:
            outcomes["error"] += 1
            print(f"sale: checkout transport error: {answer}", file=sys.stderr)
            continue
        latencies.append(latency)
        by_status.setdefault(status, []).append(latency)
        if status == 201:
            outcomes["order"] += 1
        elif status == 409 and code_of(answer) in SOLD_OUT_CODES:
            outcomes["sold_out"] += 1
        elif status >= 500:
            outcomes["5xx"] += 1
            print(f"sale: checkout {status}: {answer}", file=sys.stderr)
        else:
            other_4xx[code_of(answer)] += 1

    # The source of truth: the stock item, and the orders the store holds.
    units_left = stock_item(product_id, sku)
    orders_stored, units_ordered = orders_holding(sku)
    status, page = call("GET", f"{API}/products/{product_id}")
    shown = next((v["available"] for v in page.get("variants", []) if v["sku"] == sku), None) if status == 200 else None
    orders = outcomes["order"]
    oversold = max(0, units_ordered - UNITS, orders - UNITS, orders_stored - UNITS, -units_left)
    expected = min(SHOPPERS, UNITS)
    result = {
        "measured": time.strftime("%Y-%m-%d"),
        "shoppers": SHOPPERS,
        "units": UNITS,
        "concurrency": CONCURRENCY,
        "orders": orders,
        "sold_out_409": outcomes["sold_out"],
        "refused_at_cart": outcomes["refused_at_cart"],
        "other_4xx": dict(sorted(other_4xx.items())),
        "5xx": outcomes["5xx"],
        "errors": outcomes["error"],
        "oversold": oversold,
        "units_left": units_left,
        "checkout_ms": ms(latencies),
        "wall_s": round(time.monotonic() - STARTED, 1),
        # Beyond the headline figures: how they were checked.
        "orders_in_store": orders_stored,
        "units_in_orders": units_ordered,
        "available_on_product_page": shown,
        "stock_conserved": units_left + units_ordered == UNITS,
        "all_units_sold": orders_stored == expected and units_left == UNITS - expected,
        "checkout_ms_by_status": {str(k): ms(v) for k, v in sorted(by_status.items())},
        "carts_s": round(carts_s, 1),
        "checkout_phase_s": round(sale_s, 1),
        "checkouts_per_s": round(len(results) / sale_s, 1) if sale_s else None,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    c = result["checkout_ms"]
    print(
        f"sale: {SHOPPERS} shoppers, {UNITS} units, concurrency {CONCURRENCY}: {orders} orders, "
        f"{result['sold_out_409']} sold out, {result['refused_at_cart']} refused at cart, "
        f"other 4xx {sum(other_4xx.values())}, 5xx {result['5xx']}, errors {result['errors']}; "
        f"oversold {oversold}, {units_left} left, all sold {result['all_units_sold']}, "
        f"stock conserved {result['stock_conserved']}; checkout p50 {c['p50']} ms p99 {c['p99']} ms "
        f"max {c['max']} ms; {result['wall_s']} s",
        flush=True,
    )
    return 1 if oversold > 0 or result["5xx"] > 0 else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Deadline as error:
        print(f"sale: FAILED: {error}", file=sys.stderr, flush=True)
        sys.exit(3)
