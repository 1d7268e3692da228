#!/usr/bin/env python3
"""Real things for Schemathesis to reach past the 404s: a product in stock, a cart holding it, and
an order placed from another cart, made through the API itself. Prints `export NAME=value` lines
for tests/schemathesis/run.sh, which the config file (schemathesis.toml) reads as `${NAME}`.
Standard library only."""

import json
import os
import shlex
import sys
import urllib.request
import uuid

API = os.environ["SHOP_API_URL"].rstrip("/")
ADMIN = {"Authorization": "Bearer " + os.environ["SHOP_ADMIN_TOKEN"]}


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def main():
    run = uuid.uuid4().hex[:8]
    product_id, sku = f"fuzz-{run}", f"FUZZ-{run}"
    product = {
        "id": product_id, "slug": product_id, "title": "Schemathesis tee", "description": "Fuzzed.",
        "category": "fuzz", "tags": ["fuzz"], "images": [], "attributes": {},
        "variants": [{"sku": sku, "options": {"size": "M"}, "price": {"amount": 2500, "currency": "usd"},
                      "available": 100000}],
    }
    report = call("POST", "/admin/products/import", {"products": [product]}, ADMIN)
    if report.get("imported") != 1:
        sys.exit(f"fixtures: the product was not imported: {report}")

    cart = call("POST", "/carts")
    bearer = {"Authorization": "Bearer " + cart["cart_token"]}
    call("PUT", f"/carts/{cart['cart_id']}/items/{sku}", {"quantity": 1}, bearer)

    ordered = call("POST", "/carts")
    call("PUT", f"/carts/{ordered['cart_id']}/items/{sku}", {"quantity": 2},
         {"Authorization": "Bearer " + ordered["cart_token"]})
    order = call("POST", "/checkout", {
        "cart_id": ordered["cart_id"], "cart_token": ordered["cart_token"], "email": "fuzz@example.com",
        "shipping_address": {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "San Francisco",
                             "region": "CA", "postal_code": "94105", "country": "US"},
        "shipping_method": "standard",
    }, {"Idempotency-Key": f"fuzz-{run}"})

    values = {
        "SCHEMATHESIS_PRODUCT_ID": product_id,
        "SCHEMATHESIS_SKU": sku,
        "SCHEMATHESIS_CART_ID": cart["cart_id"],
        "SCHEMATHESIS_CART_TOKEN": cart["cart_token"],
        "SCHEMATHESIS_ORDER_ID": order["order_id"],
        "SCHEMATHESIS_ORDER_TOKEN": order["order_token"],
    }
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
