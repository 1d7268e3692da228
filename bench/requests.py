#!/usr/bin/env python3
"""AWS requests per shop operation, counted by the emulators, not by reading code.

Runs inside a local stack (`python3 infra/local/stack.py run -- python3 bench/requests.py`, or
`make bench`). For each operation it asks the gateway's IAM proxy (DynamoDB) and moto (SQS) to
record every request they receive, performs the operation through the shop's HTTP API (and the local Stripe
server, as a shopper's browser would), waits until the operation's queued work has finished, and
counts the recorded requests by API action. SES calls are counted in aws-ses-v2-local's store.

The SQS event-source polling the local gateway does (ReceiveMessage, DeleteMessageBatch) is
counted apart: on AWS, Lambda's pollers make those calls and SQS bills them too.

Writes bench/requests.json and bench/requests.md. Standard library only.
"""

import base64
import json
import math
import os
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

API = os.environ["SHOP_API_URL"]
ADMIN = os.environ["SHOP_ADMIN_TOKEN"]
STRIPE = os.environ["STRIPE_API_BASE"]
INBOX = os.environ["SHOP_SES_INBOX_URL"]
# Where requests are recorded: DynamoDB's at the gateway's IAM proxy, which every hosted
# function's call passes (DynamoDB Local records nothing) and which answers moto's recorder
# routes; SQS's at moto itself, which also sees the gateway's polling.
EMULATORS = {
    "dynamodb": os.environ["SHOP_IAM_URL"],
    "sqs": os.environ["AWS_ENDPOINT_URL_SQS"],
}
POLLING = {"ReceiveMessage", "DeleteMessageBatch", "DeleteMessage"}
OUT = Path(__file__).resolve().parent
DEADLINE = 30.0


def call(method, url, body=None, headers=None, form=False, raw=False):
    data = None
    headers = dict(headers or {})
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            if raw or not text or text[0] not in "{[":
                return response.status, text
            return response.status, json.loads(text)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def recorder(emulator, action):
    call("POST", f"{EMULATORS[emulator]}/moto-api/recorder/{action}")


def recording(emulator):
    """The requests `emulator` recorded: (action, JSON body) each."""
    status, text = call("GET", f"{EMULATORS[emulator]}/moto-api/recorder/download-recording", raw=True)
    if status != 200:
        raise SystemExit(f"{emulator}: cannot download the recording ({status})")
    requests = []
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("service", emulator) != emulator:
            continue
        target = entry["headers"].get("X-Amz-Target") or entry["headers"].get("x-amz-target")
        if target:
            action = target.split(".")[-1]
        else:
            query = urllib.parse.urlparse(entry["url"]).query
            action = urllib.parse.parse_qs(query).get("Action", ["?"])[0]
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        try:
            body = json.loads(body) if body else {}
        except ValueError:
            body = {}
        requests.append((action, body))
    return requests


def recorded(emulator):
    return Counter(action for action, _ in recording(emulator))


# DynamoDB on-demand capacity, from the requests' bodies, assuming what the shop's items are: at
# most 1 KB written (1 write unit; 2 in a transaction) and at most 4 KB read (1 read unit, half for
# an eventually consistent read, 2 in a transaction). A Query is billed by the size it returns:
# taken as its Limit x 1 KB.
ITEM_KB = 1


def capacity(requests) -> dict:
    write = read = 0.0
    for action, body in requests:
        strong = 1.0 if body.get("ConsistentRead") else 0.5
        if action in ("PutItem", "UpdateItem", "DeleteItem"):
            write += 1
        elif action == "BatchWriteItem":
            write += sum(len(items) for items in body.get("RequestItems", {}).values())
        elif action == "TransactWriteItems":
            write += 2 * len(body.get("TransactItems", []))
        elif action == "GetItem":
            read += strong
        elif action == "BatchGetItem":
            for table in body.get("RequestItems", {}).values():
                read += len(table.get("Keys", [])) * (1.0 if table.get("ConsistentRead") else 0.5)
        elif action == "TransactGetItems":
            read += 2 * len(body.get("TransactItems", []))
        elif action in ("Query", "Scan"):
            read += strong * max(1, math.ceil(body.get("Limit", 4) * ITEM_KB / 4))
    return {"write_units": write, "read_units": read}


STARTED = int(time.time()) - 1


def mails():
    """Mails in the local SES since this script started (`since` keeps the answer small)."""
    status, store = call("GET", f"{INBOX}/store?since={STARTED}")
    return len(store["emails"]) if status == 200 else 0


def measure(name, operation, done=lambda: True, deadline=DEADLINE):
    """Counts the requests `operation` causes until `done()` holds and the count is still."""
    for emulator in EMULATORS:
        recorder(emulator, "reset-recording")
        recorder(emulator, "start-recording")
    mails_before = mails()
    result = operation()
    seconds, deadline = deadline, time.monotonic() + deadline
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: its work did not finish within {seconds:.0f} s")
        time.sleep(0.5)
    # Trailing writes (a mail marked sent after SES answered) land within moments: wait until
    # nothing new has been recorded for a second.
    last, still_since = None, time.monotonic()
    while time.monotonic() - still_since < 1.0 and time.monotonic() < deadline:
        # The event sources' polling never stops: only the other requests must be still.
        now = {e: sum(n for action, n in recorded(e).items() if action not in POLLING) for e in EMULATORS}
        now["ses"] = mails()
        if now != last:
            last, still_since = now, time.monotonic()
        time.sleep(0.3)
    counts = {}
    for emulator in EMULATORS:
        recorder(emulator, "stop-recording")
    dynamodb_requests = recording("dynamodb")
    counts = {"dynamodb": Counter(a for a, _ in dynamodb_requests), "sqs": recorded("sqs")}
    sqs = counts["sqs"]
    row = {
        "operation": name,
        "dynamodb": dict(sorted(counts["dynamodb"].items())),
        "sqs": {k: v for k, v in sorted(sqs.items()) if k not in POLLING},
        "sqs_polling": {k: v for k, v in sorted(sqs.items()) if k in POLLING},
        "ses": mails() - mails_before,
        "dynamodb_capacity": capacity(dynamodb_requests),
    }
    print(f"{name}: {row}", flush=True)
    return row, result


def order_view(order):
    status, view = call(
        "GET", f"{API}/orders/{order['order_id']}", headers={"Authorization": f"Bearer {order['order_token']}"}
    )
    return view if status == 200 else {}


def campaign_row(admin):
    """A campaign to 1,000 imported subscribers of a segment of their own, from send to the last
    mail in the local SES."""
    stamp, recipients = int(time.time()), 1000
    source = f"bench-{stamp}"
    consented = stamp - 86_400
    subscribers = [{"email": f"reader-{i}-{stamp}@example.com", "consented_at": consented} for i in range(recipients)]
    status, report = call("POST", f"{API}/admin/subscribers/import", {"source": source, "subscribers": subscribers}, admin)
    assert status == 200, report
    draft = {"name": f"bench {stamp}", "subject": "Counted", "html": "<p>Hello {{email}}</p>", "text": "Hello {{email}}",
             "audience": {"source": source}}
    status, campaign = call("POST", f"{API}/admin/campaigns", draft, admin)
    assert status == 201, campaign
    inbox_before = mails()
    row, _ = measure(
        f"campaign, per {recipients:,} recipients (POST /admin/campaigns/{{id}}/send → SendBulkEmail)",
        lambda: call("POST", f"{API}/admin/campaigns/{campaign['campaign_id']}/send", {}, admin),
        lambda: mails() >= inbox_before + recipients,
        deadline=180.0,
    )
    return row


def main():
    rows = []
    admin = {"Authorization": f"Bearer {ADMIN}"}
    sku, product_id = f"BENCH-{int(time.time())}", f"bench-{int(time.time())}"
    product = {
        "id": product_id, "slug": product_id, "title": "Bench Mug", "description": "Counted.",
        "category": "bench", "tags": [], "images": [], "attributes": {},
        "variants": [{"sku": sku, "options": {}, "price": {"amount": 2500, "currency": "usd"}, "available": 50}],
    }
    status, _ = call("POST", f"{API}/admin/products/import", {"products": [product]}, admin)
    assert status == 200, status

    rows.append(measure("browse page (GET /products?limit=20)", lambda: call("GET", f"{API}/products?limit=20"))[0])
    rows.append(measure("product (GET /products/{id})", lambda: call("GET", f"{API}/products/{product_id}"))[0])
    row, (_, cart) = measure("cart (POST /carts)", lambda: call("POST", f"{API}/carts"))
    rows.append(row)
    auth = {"Authorization": f"Bearer {cart['cart_token']}"}
    row, _ = measure(
        "cart line (PUT /carts/{id}/items/{sku})",
        lambda: call("PUT", f"{API}/carts/{cart['cart_id']}/items/{sku}", {"quantity": 2}, auth),
    )
    rows.append(row)
    email = f"bench-{int(time.time())}@example.com"
    body = {
        "cart_id": cart["cart_id"], "cart_token": cart["cart_token"], "email": email,
        "shipping_address": {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "San Francisco",
                             "region": "CA", "postal_code": "94105", "country": "US"},
        "shipping_method": "standard",
    }
    row, (status, order) = measure(
        "checkout (POST /checkout)",
        lambda: call("POST", f"{API}/checkout", body, {"Idempotency-Key": f"bench-{time.time()}"}),
    )
    assert status == 201, order
    rows.append(row)
    inbox_before = mails()
    intent = order["payment"]["payment_intent_id"]
    row, _ = measure(
        "payment to packing (Stripe event → webhook → worker → confirmation + new-order mails)",
        lambda: call("POST", f"{STRIPE}/v1/payment_intents/{intent}/confirm", {"payment_method": "pm_card_visa"},
                     {"Authorization": "Bearer sk_test_bench"}, form=True),
        # Only the inbox is watched while counting: reading the order would count as requests.
        lambda: mails() >= inbox_before + 2,
    )
    assert order_view(order).get("status") == "fulfilling", order_view(order)
    rows.append(row)
    inbox_before = mails()
    row, _ = measure(
        "shipment (POST /admin/orders/{id}/shipments → shipped mail)",
        lambda: call("POST", f"{API}/admin/orders/{order['order_id']}/shipments",
                     {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}, admin),
        lambda: mails() >= inbox_before + 1,
    )
    rows.append(row)
    inbox_before = mails()
    row, _ = measure(
        "delivery (POST /admin/orders/{id}/delivered → delivered mail)",
        lambda: call("POST", f"{API}/admin/orders/{order['order_id']}/delivered", {}, admin),
        lambda: mails() >= inbox_before + 1,
    )
    rows.append(row)

    rows.append(campaign_row(admin))

    (OUT / "requests.json").write_text(json.dumps({"measured": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n")
    lines = [
        "# AWS requests per operation",
        "",
        f"Counted by the emulators' request recorders on {time.strftime('%Y-%m-%d')} (`make bench`); "
        "SQS polling by the event source (Lambda's pollers on AWS) is listed apart.",
        "",
        "| operation | DynamoDB | write / read units | SQS | SES | SQS polling |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in d.items()) or "-"
        lines.append(
            f"| {row['operation']} | {sum(row['dynamodb'].values())}: {fmt(row['dynamodb'])} "
            f"| {row['dynamodb_capacity']['write_units']:g} / {row['dynamodb_capacity']['read_units']:g} "
            f"| {sum(row['sqs'].values())}: {fmt(row['sqs'])} | {row['ses']} | {fmt(row['sqs_polling'])} |"
        )
    (OUT / "requests.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
