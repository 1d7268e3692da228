#!/usr/bin/env python3
"""Warm latency per shop operation: p50 and p99, and how much of it is the handler's own work.

Runs inside a local stack (`make bench` starts one). Each operation runs on one instance of the
function's release binary, hosted as Lambda hosts it (bench/lambda_host.py), which is handed the
operation's events one after another. The first invocation is the cold one and is left out. Every
call the function makes to DynamoDB, SQS, SES or Stripe goes through a timing pass-through, so each
invocation splits into the time waiting on those services (here the emulators on loopback: DynamoDB
Local, moto's SQS, not AWS's figures) and the rest, the handler's own work.

The storefront renders a product page of the demo catalog (the one the stack seeds, with its
pictures and variants), as a shopper's first visit asks for it: no cookie, no ETag to revalidate.

Carts for the checkout runs and the products are made through the shop's HTTP API first; the
webhook run pays the orders the checkout run created, with events signed as Stripe signs them.

Writes bench/warm.json. Standard library only.
"""

import copy
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from lambda_host import Instance, Upstreams, answer_of, function_env, signed_by_stripe

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
LAMBDA = ROOT / "target" / "lambda"
API = os.environ["SHOP_API_URL"]
ADMIN = os.environ["SHOP_ADMIN_TOKEN"]
READS = int(os.environ.get("BENCH_WARM_READS", "200"))
# The storefront's product page: a product of the demo catalog (infra/seed/catalog.json).
PAGE_PRODUCT = os.environ.get("BENCH_PAGE_PRODUCT", "merino-crew-sweater")
WRITES = int(os.environ.get("BENCH_WARM_WRITES", "100"))
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "San Francisco", "region": "CA",
           "postal_code": "94105", "country": "US"}


def call(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(f"{API}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def http_event(sample: str, path: str, path_parameters=None, query=None, body=None, headers=None,
               source_ip=None) -> bytes:
    """The API Gateway event of `sample` (events/<function>/<file>), for another request (from
    `source_ip` when given)."""
    event = json.loads((EVENTS / sample).read_text())
    event = copy.deepcopy(event)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = path_parameters or {}
    event["queryStringParameters"] = query or {}
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    event["headers"].update(headers or {})
    if source_ip:
        event["requestContext"]["http"]["sourceIp"] = source_ip
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return json.dumps(event).encode()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(operation: str, binary: str, events: list) -> tuple:
    """Hands `events` to one instance of `binary`; the row of figures and the answers' bodies."""
    upstreams = Upstreams()
    env = upstreams.wrap(function_env(ROOT, binary))
    instance = Instance(binary, [str(LAMBDA / binary / "bootstrap")], env, events, ROOT)
    with instance:
        finished = instance.invocations.wait_answered(len(events), 30 + 1.0 * len(events))
    upstreams.close()
    if not finished:
        raise SystemExit(f"warm: {operation}: {len(instance.invocations.timings)} of {len(events)} answered in time")
    warm = instance.invocations.timings[1:]
    total = [(end - start) * 1000 for start, end in warm]
    aws = [upstreams.waited(start, end) * 1000 for start, end in warm]
    own = [t - a for t, a in zip(total, aws)]
    calls = [upstreams.requests_within(start, end) for start, end in warm]
    answers = {}
    for body in instance.invocations.bodies[1:]:
        answer = answer_of(body)
        answers[answer] = answers.get(answer, 0) + 1
    row = {
        "operation": operation,
        "function": binary,
        "invocations": len(warm),
        "p50_ms": round(statistics.median(total), 2),
        "p99_ms": round(percentile(total, 0.99), 2),
        "aws_wait_p50_ms": round(statistics.median(aws), 2),
        "own_p50_ms": round(statistics.median(own), 2),
        "own_p99_ms": round(percentile(own, 0.99), 2),
        "calls_per_invocation": statistics.median(calls),
        "answers": answers,
    }
    print(f"warm: {row}", file=sys.stderr, flush=True)
    return row, instance.invocations.bodies


def main() -> int:
    missing = [b for b in ("browse", "cart", "checkout", "payment-webhook", "storefront")
               if not (LAMBDA / b / "bootstrap").exists()]
    if missing:
        print(f"warm: no release build of {', '.join(missing)}; run `make bench-build` first", file=sys.stderr)
        return 1
    admin = {"Authorization": f"Bearer {ADMIN}"}
    stamp = int(time.time())
    sku, product_id = f"WARM-{stamp}", f"warm-{stamp}"
    product = {
        "id": product_id, "slug": product_id, "title": "Warm Mug", "description": "Timed.",
        "category": "bench", "tags": [], "images": [], "attributes": {},
        "variants": [{"sku": sku, "options": {}, "price": {"amount": 2500, "currency": "usd"}, "available": 10000}],
    }
    call("POST", "/admin/products/import", {"products": [product]}, admin)
    rows = []

    rows.append(run("browse page (GET /products?limit=20)", "browse", [
        http_event("browse/list-products.json", "/products", query={"limit": "20"}) for _ in range(READS + 1)
    ])[0])
    rows.append(run("product (GET /products/{id})", "browse", [
        http_event("browse/get-product.json", f"/products/{product_id}", {"id_or_slug": product_id})
        for _ in range(READS + 1)
    ])[0])
    page = f"/products/{PAGE_PRODUCT}"
    rows.append(run("product page (storefront, GET /products/{slug}, HTML)", "storefront", [
        http_event("storefront/get-product-page.json", page, {"proxy": page.lstrip("/")}) for _ in range(READS + 1)
    ])[0])

    cart = call("POST", "/carts")
    auth = {"authorization": f"Bearer {cart['cart_token']}"}
    path = f"/carts/{cart['cart_id']}/items/{sku}"
    rows.append(run("cart line (PUT /carts/{id}/items/{sku})", "cart", [
        http_event("cart/set-line.json", path, {"cart_id": cart["cart_id"], "sku": sku}, body={"quantity": 1 + i % 2},
                   headers=auth)
        for i in range(READS + 1)
    ])[0])

    checkouts = []
    for i in range(WRITES + 1):
        cart = call("POST", "/carts")
        call("PUT", f"/carts/{cart['cart_id']}/items/{sku}", {"quantity": 1},
             {"Authorization": f"Bearer {cart['cart_token']}"})
        body = {"cart_id": cart["cart_id"], "cart_token": cart["cart_token"], "email": f"warm-{stamp}-{i}@example.com",
                "shipping_address": ADDRESS, "shipping_method": "standard", "marketing_opt_in": False}
        # Each shopper from an address of their own (TEST-NET-2): checkout holds are limited per source.
        checkouts.append(http_event("checkout/checkout.json", "/checkout", body=body,
                                    headers={"idempotency-key": uuid.uuid4().hex}, source_ip=f"198.51.100.{i % 250 + 1}"))
    row, bodies = run("checkout (POST /checkout)", "checkout", checkouts)
    rows.append(row)

    payments = []
    for body in bodies:
        order = json.loads(json.loads(body).get("body") or "{}")
        if "payment" in order:
            payments.append(webhook_event(order))
    if len(payments) < 2:
        raise SystemExit("warm: the checkout run created no orders to pay")
    rows.append(run("webhook (payment_intent.succeeded)", "payment-webhook", payments)[0])

    report = {"measured": time.strftime("%Y-%m-%d"), "reads": READS, "writes": WRITES, "rows": rows}
    (ROOT / "bench" / "warm.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


def webhook_event(order: dict) -> bytes:
    """Stripe's payment_intent.succeeded for `order`, signed with the webhook secret."""
    sample = json.loads((EVENTS / "payment-webhook" / "payment-intent-succeeded.json").read_text())
    stripe_event = json.loads(sample["body"])
    stripe_event["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    stripe_event["created"] = int(time.time())
    intent = stripe_event["data"]["object"]
    total = order["totals"]["total"]
    intent.update({
        "id": order["payment"]["payment_intent_id"],
        "amount": total["amount"], "amount_received": total["amount"], "currency": total["currency"],
        "metadata": {"order_id": order["order_id"]},
        "client_secret": order["payment"].get("client_secret", intent["client_secret"]),
    })
    return signed_by_stripe(http_event("payment-webhook/payment-intent-succeeded.json", "/webhooks/stripe"),
                            json.dumps(stripe_event))


if __name__ == "__main__":
    sys.exit(main())
