#!/usr/bin/env python3
"""Real things for Schemathesis to reach past the 404s, made through the API itself (and the
local Stripe server and inbox, as a shopper's browser and mailbox would): a product in stock, a
cart holding it, another for the generated checkouts (hooks.py), an order, a return asked for
another order (paid, shipped), a support message, a discount code, a campaign draft, and a newsletter sign-up's
confirmation and unsubscribe tokens. Prints `export NAME=value` lines for
tests/schemathesis/run.sh, which the config file (schemathesis.toml) reads as `${NAME}`.
Standard library only."""

import json
import os
import re
import shlex
import sys
import time
import urllib.parse
import urllib.request
import uuid

API = os.environ["SHOP_API_URL"].rstrip("/")
ADMIN = {"Authorization": "Bearer " + os.environ["SHOP_ADMIN_TOKEN"]}
STRIPE = os.environ["STRIPE_API_BASE"].rstrip("/")
INBOX = os.environ["SHOP_SES_INBOX_URL"].rstrip("/")
# How long work travelling over the queues (a payment, a mail) may take.
DEADLINE = 30.0
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "San Francisco",
           "region": "CA", "postal_code": "94105", "country": "US"}


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def eventually(what, probe):
    """`probe()`'s first truthy answer, polled until DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    sys.exit(f"fixtures: {what} did not happen within {DEADLINE:.0f} s")


def order_from(sku, quantity, email, key):
    """An order of `quantity` of `sku`, placed from a new cart."""
    cart = call("POST", "/carts")
    call("PUT", f"/carts/{cart['cart_id']}/items/{sku}", {"quantity": quantity},
         {"Authorization": "Bearer " + cart["cart_token"]})
    return call("POST", "/checkout", {
        "cart_id": cart["cart_id"], "cart_token": cart["cart_token"], "email": email,
        "shipping_address": ADDRESS, "shipping_method": "standard",
    }, {"Idempotency-Key": key})


def returned(sku, run):
    """The return asked for an order paid (with the local Stripe's test card) and shipped."""
    order = order_from(sku, 1, f"fuzz-return-{run}@example.com", f"fuzz-return-{run}")
    intent = order["payment"]["payment_intent_id"]
    confirm = urllib.request.Request(
        f"{STRIPE}/v1/payment_intents/{intent}/confirm",
        data=urllib.parse.urlencode({"payment_method": "pm_card_visa"}).encode(), method="POST")
    confirm.add_header("Authorization", "Bearer sk_test_fixtures")
    urllib.request.urlopen(confirm, timeout=30).read()
    owner = {"Authorization": "Bearer " + order["order_token"]}
    eventually("the payment", lambda: call("GET", f"/orders/{order['order_id']}", None, owner)["status"] == "fulfilling")
    call("POST", f"/admin/orders/{order['order_id']}/shipments",
         {"carrier": "UPS", "tracking_number": f"1Z{run}"}, ADMIN)
    asked = call("POST", f"/orders/{order['order_id']}/returns",
                 {"lines": [{"sku": sku, "quantity": 1}], "reason": "Too small"}, owner)
    return asked["return_id"]


def mail_token(address, path):
    """The `?token=` of the first link to `path` in a mail the shop sent to `address`."""
    def find():
        with urllib.request.urlopen(f"{INBOX}/store", timeout=30) as response:
            mails = json.loads(response.read())["emails"]
        for mail in mails:
            if address in (mail.get("destination") or {}).get("to", []):
                found = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", (mail.get("body") or {}).get("text") or "")
                if found:
                    return found.group(1)
        return None
    return eventually(f"a mail to {address} linking {path}", find)


def confirmation_token(email, source):
    """The token of the confirmation link mailed to `email` when it signs up at `source`."""
    call("POST", "/subscribers", {"email": email, "source": source})
    return mail_token(email, "/subscribers/confirm")


def consent_tokens(run):
    """A sign-up's confirmation token, and another sign-up's unsubscribe token from a campaign sent
    to it alone (an audience of its own source): two addresses, as an unsubscribed address's
    confirmation link no longer confirms."""
    confirm = confirmation_token(f"fuzz-news-{run}@example.com", "newsletter")
    leaver, source = f"fuzz-leaver-{run}@example.com", f"fuzz-{run}"
    urllib.request.urlopen(f"{API}/subscribers/confirm?token={confirmation_token(leaver, source)}", timeout=30).read()
    campaign = call("POST", "/admin/campaigns", {
        "name": f"Fixture {run}", "subject": f"Fixture news {run}", "html": "<p>News</p>",
        "text": "News", "audience": {"source": source}}, ADMIN)
    call("POST", f"/admin/campaigns/{campaign['campaign_id']}/send", None, ADMIN)
    return confirm, mail_token(leaver, "/unsubscribe")


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

    checkout = call("POST", "/carts")
    call("PUT", f"/carts/{checkout['cart_id']}/items/{sku}", {"quantity": 1},
         {"Authorization": "Bearer " + checkout["cart_token"]})
    order = order_from(sku, 2, "fuzz@example.com", f"fuzz-{run}")
    return_id = returned(sku, run)
    message = call("POST", "/support/messages", {
        "email": f"fuzz-support-{run}@example.com", "subject": "Where is my parcel?", "body": "Asking."})
    code = f"FUZZ{run.upper()}"
    call("PUT", f"/admin/discounts/{code}", {"value": {"type": "percent", "percent_bp": 1000}}, ADMIN)
    draft = call("POST", "/admin/campaigns", {
        "name": f"Draft {run}", "subject": f"Draft {run}", "html": "<p>Draft</p>", "text": "Draft",
        "audience": {"source": f"fuzz-draft-{run}"}}, ADMIN)
    confirm_token, unsubscribe_token = consent_tokens(run)

    values = {
        "SCHEMATHESIS_PRODUCT_ID": product_id,
        "SCHEMATHESIS_SKU": sku,
        "SCHEMATHESIS_CART_ID": cart["cart_id"],
        "SCHEMATHESIS_CART_TOKEN": cart["cart_token"],
        "SCHEMATHESIS_CHECKOUT_CART_ID": checkout["cart_id"],
        "SCHEMATHESIS_CHECKOUT_CART_TOKEN": checkout["cart_token"],
        "SCHEMATHESIS_ORDER_ID": order["order_id"],
        "SCHEMATHESIS_ORDER_TOKEN": order["order_token"],
        "SCHEMATHESIS_RETURN_ID": return_id,
        "SCHEMATHESIS_SUPPORT_REFERENCE": message["reference"],
        "SCHEMATHESIS_DISCOUNT_CODE": code,
        "SCHEMATHESIS_CAMPAIGN_ID": draft["campaign_id"],
        "SCHEMATHESIS_CONFIRM_TOKEN": confirm_token,
        "SCHEMATHESIS_UNSUBSCRIBE_TOKEN": unsubscribe_token,
    }
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
