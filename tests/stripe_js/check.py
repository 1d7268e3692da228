#!/usr/bin/env python3
"""Checks the local Stripe server's side of the stand-in Stripe.js (standard library only).

Starts infra/local/stripe_server.py on a free port, with a webhook receiver of its own, and checks:
GET /v3/ serves the stand-in as JavaScript; the calls the stand-in makes with the publishable key
and client secret (confirm, retrieve, the stand-in's 3D Secure outcome) for Stripe's test cards'
payment methods, with their statuses, errors, CORS headers and the webhook events they send; what
a publishable key is refused; and that secret-key calls and idempotency still answer as before.
It does not run the JavaScript: that needs a browser.

Usage: python3 tests/stripe_js/check.py      (exit status 0 when every check passed)
"""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "infra/local/stripe_server.py"
SECRET_KEY = "sk_test_local_shop"
PUBLISHABLE_KEY = "pk_test_local_shop"
WEBHOOK_SECRET = "whsec_stripe_js_check"
ORIGIN = "http://127.0.0.1:3001"  # the storefront's; only the server's answers to it matter

EVENTS: list = []
EVENTS_LOCK = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook(BaseHTTPRequestHandler):
    """The shop's webhook, reduced to checking Stripe's signature and keeping the event."""

    def do_POST(self):
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fields = dict(part.split("=", 1) for part in self.headers.get("Stripe-Signature", "").split(","))
        expected = hmac.new(WEBHOOK_SECRET.encode(), f"{fields.get('t')}.".encode() + payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("v1", "")):
            self.send_response(400)
        else:
            with EVENTS_LOCK:
                EVENTS.append(json.loads(payload))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name: str):
        return self.headers.get(name)


class Stripe:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, fields=None, secret_key=True, headers=None) -> Answer:
        data = urllib.parse.urlencode(fields or {}).encode()
        url = self.base + path
        if method == "GET" and fields:
            url, data = f"{url}?{data.decode()}", None
        request = urllib.request.Request(url, data=data if method == "POST" else None, method=method)
        request.add_header("Origin", ORIGIN)
        if method == "POST":
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if secret_key:
            request.add_header("Authorization", f"Bearer {SECRET_KEY}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def create_intent(self, order_id: str, amount: int = 4_200) -> dict:
        """As the shop's checkout creates one (shared/services/src/payments.rs)."""
        answer = self.call(
            "POST",
            "/v1/payment_intents",
            {
                "amount": amount,
                "currency": "usd",
                "automatic_payment_methods[enabled]": "true",
                "metadata[order_id]": order_id,
                "receipt_email": "ada@example.com",
                "description": f"Order {order_id}",
            },
            headers={"Idempotency-Key": f"order-{order_id}-intent"},
        )
        assert answer.status == 200, answer.body
        return answer.json()

    def browser(self, method: str, intent: dict, action: str = "", **fields) -> Answer:
        """A call as the stand-in Stripe.js makes it: publishable key and client secret, no secret key."""
        path = f"/v1/payment_intents/{intent['id']}" + (f"/{action}" if action else "")
        params = {"key": PUBLISHABLE_KEY, "client_secret": intent["client_secret"], **fields}
        return self.call(method, path, params, secret_key=False)


def expect(answer: Answer, status: int, cors: bool = True) -> dict:
    assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body[:500]!r}"
    if cors:
        assert answer.header("Access-Control-Allow-Origin") == "*", f"no CORS header: {dict(answer.headers)}"
    return answer.json() if answer.body else {}


def events_of(intent_id: str, kinds: list, timeout: float = 10.0) -> list:
    """The webhook events about one intent, once exactly `kinds` have arrived, in any order: the
    server posts each event on its own, and Stripe does not promise an order either."""
    deadline = time.monotonic() + timeout
    while True:
        with EVENTS_LOCK:
            mine = [e for e in EVENTS if e["data"]["object"].get("id") == intent_id]
        got = [e["type"] for e in mine]
        if sorted(got) == sorted(kinds):
            return mine
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook events for {intent_id}: expected {kinds}, got {got}")
        time.sleep(0.05)


def publishable_shape(intent: dict) -> None:
    """What a publishable key sees: no metadata, no charge (Stripe shows those to secret keys only)."""
    for field in ("metadata", "amount_received", "latest_charge"):
        assert field not in intent, f"{field} shown to a publishable key"
    assert intent["object"] == "payment_intent" and intent["client_secret"].startswith(intent["id"] + "_secret_")


# --- The checks -----------------------------------------------------------------------------------


def check_stripe_js_is_served(stripe: Stripe) -> None:
    for path in ("/v3/", "/v3"):
        answer = stripe.call("GET", path, secret_key=False)
        assert answer.status == 200, answer.status
        assert answer.header("Content-Type").startswith("application/javascript"), answer.header("Content-Type")
        assert answer.header("Access-Control-Allow-Origin") == "*"
        text = answer.body.decode()
        for needle in ("confirmPayment", "retrievePaymentIntent", "window.Stripe", "Card number", "Expiry", "CVC",
                       "Complete authentication", "Fail authentication", "stand_in_authenticate"):
            assert needle in text, f"{needle!r} missing from {path}"
    assert stripe.call("GET", "/v3/", secret_key=False).body == (ROOT / "infra/local/stripe_js/v3.js").read_bytes()


def check_preflight(stripe: Stripe) -> None:
    for path in ("/v3/", "/v1/payment_intents/pi_x/confirm", "/v1/payment_intents/pi_x"):
        answer = stripe.call(
            "OPTIONS", path, secret_key=False,
            headers={"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
        )
        assert answer.status == 204, answer.status
        assert answer.header("Access-Control-Allow-Origin") == "*"
        assert "POST" in answer.header("Access-Control-Allow-Methods")
        assert "content-type" in answer.header("Access-Control-Allow-Headers").lower()


def check_card_succeeds(stripe: Stripe) -> None:
    """4242 4242 4242 4242: pm_card_visa."""
    intent = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    paid = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_visa",
                                 return_url="http://127.0.0.1:3001/orders/x"), 200)
    assert paid["status"] == "succeeded", paid
    publishable_shape(paid)
    seen = expect(stripe.browser("GET", intent), 200)
    assert seen["status"] == "succeeded" and seen["id"] == intent["id"]
    publishable_shape(seen)
    full = expect(stripe.call("GET", f"/v1/payment_intents/{intent['id']}"), 200)
    assert full["amount_received"] == 4_200 and full["metadata"]["order_id"].startswith("ord_")
    events = events_of(intent["id"], ["payment_intent.created", "payment_intent.succeeded"])
    assert events[-1]["data"]["object"]["metadata"] == full["metadata"], "the webhook sees the whole intent"
    again = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_visa"), 400)
    assert again["error"]["code"] == "payment_intent_unexpected_state"
    publishable_shape(again["error"]["payment_intent"])


def check_card_declined(stripe: Stripe) -> None:
    """4000 0000 0000 0002: pm_card_chargeDeclined."""
    intent = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    error = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_chargeDeclined"), 402)["error"]
    assert (error["type"], error["code"], error["decline_code"], error["message"]) == (
        "card_error", "card_declined", "generic_decline", "Your card was declined."), error
    assert error["payment_intent"]["status"] == "requires_payment_method"
    publishable_shape(error["payment_intent"])
    seen = expect(stripe.browser("GET", intent), 200)
    assert seen["last_payment_error"]["decline_code"] == "generic_decline"
    events_of(intent["id"], ["payment_intent.created", "payment_intent.payment_failed"])
    paid = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_visa"), 200)
    assert paid["status"] == "succeeded" and paid["last_payment_error"] is None, "another card may follow a decline"


def check_3ds_completed(stripe: Stripe) -> None:
    """4000 0025 0000 3155: pm_card_authenticationRequired, and the shopper completes the challenge."""
    intent = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    waiting = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_authenticationRequired"), 200)
    assert waiting["status"] == "requires_action", waiting
    assert waiting["next_action"]["type"] == "use_stripe_sdk"
    paid = expect(stripe.browser("POST", intent, "stand_in_authenticate", outcome="complete"), 200)
    assert paid["status"] == "succeeded" and paid["next_action"] is None, paid
    publishable_shape(paid)
    events_of(intent["id"], ["payment_intent.created", "payment_intent.requires_action", "payment_intent.succeeded"])
    late = expect(stripe.browser("POST", intent, "stand_in_authenticate", outcome="fail"), 400)
    assert late["error"]["code"] == "payment_intent_unexpected_state"


def check_3ds_failed(stripe: Stripe) -> None:
    """4000 0025 0000 3155, and the shopper fails the challenge: as Stripe, back to requires_payment_method."""
    intent = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_authenticationRequired"), 200)
    bad = expect(stripe.browser("POST", intent, "stand_in_authenticate", outcome="maybe"), 400)
    assert bad["error"]["param"] == "outcome"
    failed = expect(stripe.browser("POST", intent, "stand_in_authenticate", outcome="fail"), 200)
    assert failed["status"] == "requires_payment_method", failed
    assert failed["next_action"] is None and failed["payment_method"] is None
    error = failed["last_payment_error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "payment_intent_authentication_failure"), error
    events = events_of(intent["id"], ["payment_intent.created", "payment_intent.requires_action",
                                      "payment_intent.payment_failed"])
    # The events arrive in any order (each is posted on its own): the failure's, by its type.
    failure = next(e for e in events if e["type"] == "payment_intent.payment_failed")
    assert failure["data"]["object"]["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    paid = expect(stripe.browser("POST", intent, "confirm", payment_method="pm_card_visa"), 200)
    assert paid["status"] == "succeeded", "another card may follow a failed authentication"


def check_publishable_key_limits(stripe: Stripe) -> None:
    intent = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    other = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    pk = {"key": PUBLISHABLE_KEY}
    refusals = [
        stripe.call("POST", "/v1/payment_intents", {**pk, "amount": 100, "currency": "usd"}, secret_key=False),
        stripe.call("POST", f"/v1/payment_intents/{intent['id']}/cancel",
                    {**pk, "client_secret": intent["client_secret"]}, secret_key=False),
        stripe.call("POST", "/v1/refunds", {**pk, "payment_intent": intent["id"]}, secret_key=False),
        stripe.call("GET", "/v1/__events", pk, secret_key=False),
    ]
    for answer in refusals:
        body = expect(answer, 401)
        assert body["error"]["type"] == "invalid_request_error"
        assert "cannot be made with a publishable API key" in body["error"]["message"], body
    live = stripe.call("GET", f"/v1/payment_intents/{intent['id']}",
                       {"key": "pk_live_x", "client_secret": intent["client_secret"]}, secret_key=False)
    expect(live, 401)
    # The client secret must be the intent's own.
    wrong = stripe.call("POST", f"/v1/payment_intents/{intent['id']}/confirm",
                        {**pk, "client_secret": other["client_secret"], "payment_method": "pm_card_visa"}, secret_key=False)
    assert expect(wrong, 400)["error"]["code"] == "payment_intent_invalid_parameter"
    missing = stripe.call("GET", f"/v1/payment_intents/{intent['id']}", pk, secret_key=False)
    assert expect(missing, 400)["error"]["param"] == "client_secret"
    unknown = stripe.call("GET", "/v1/payment_intents/pi_nope", {**pk, "client_secret": "pi_nope_secret_x"}, secret_key=False)
    assert expect(unknown, 404)["error"]["code"] == "resource_missing"
    # A Bearer publishable key is as good as the `key` parameter.
    bearer = stripe.call("GET", f"/v1/payment_intents/{intent['id']}", {"client_secret": intent["client_secret"]},
                         secret_key=False, headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"})
    publishable_shape(expect(bearer, 200))
    # No key at all: as before.
    none = stripe.call("GET", f"/v1/payment_intents/{intent['id']}", secret_key=False)
    assert expect(none, 401)["error"]["type"] == "authentication_error"
    still = expect(stripe.call("GET", f"/v1/payment_intents/{intent['id']}"), 200)
    assert still["status"] == "requires_payment_method", "nothing above touched the intent"


def check_secret_key_calls_unchanged(stripe: Stripe) -> None:
    """The shop's own calls (and the Rust tests'): secret key, idempotency, server-side confirm."""
    order_id = f"ord_{uuid.uuid4().hex[:8]}"
    first = stripe.create_intent(order_id)
    replay = stripe.call("POST", "/v1/payment_intents",
                         {"amount": 4_200, "currency": "usd", "automatic_payment_methods[enabled]": "true",
                          "metadata[order_id]": order_id, "receipt_email": "ada@example.com",
                          "description": f"Order {order_id}"},
                         headers={"Idempotency-Key": f"order-{order_id}-intent"})
    assert replay.status == 200 and replay.header("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first["id"]
    clash = stripe.call("POST", "/v1/payment_intents", {"amount": 1, "currency": "usd"},
                        headers={"Idempotency-Key": f"order-{order_id}-intent"})
    assert clash.status == 400 and clash.json()["error"]["type"] == "idempotency_error"
    paid = stripe.call("POST", f"/v1/payment_intents/{first['id']}/confirm", {"payment_method": "pm_card_visa"})
    assert paid.status == 200 and paid.json()["status"] == "succeeded"
    assert paid.json()["metadata"]["order_id"] == order_id, "a secret key sees the whole intent"
    declined = stripe.create_intent(f"ord_{uuid.uuid4().hex[:8]}")
    answer = stripe.call("POST", f"/v1/payment_intents/{declined['id']}/confirm", {"payment_method": "pm_card_chargeDeclined"})
    assert answer.status == 402 and answer.json()["error"]["decline_code"] == "generic_decline"
    assert "metadata" in answer.json()["error"]["payment_intent"]
    refund = stripe.call("POST", "/v1/refunds", {"payment_intent": first["id"], "amount": 200})
    assert refund.status == 200 and refund.json()["amount"] == 200
    bad_key = stripe.call("GET", f"/v1/payment_intents/{first['id']}", secret_key=False,
                          headers={"Authorization": "Bearer sk_live_x"})
    assert bad_key.status == 401 and bad_key.json()["error"]["message"] == "Invalid API Key provided."


CHECKS = [
    check_stripe_js_is_served,
    check_preflight,
    check_card_succeeds,
    check_card_declined,
    check_3ds_completed,
    check_3ds_failed,
    check_publishable_key_limits,
    check_secret_key_calls_unchanged,
]


def main() -> int:
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    port = free_port()
    env = dict(os.environ, STRIPE_WEBHOOK_URL=f"http://127.0.0.1:{webhook.server_address[1]}/webhooks/stripe",
               STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen([sys.executable, str(SERVER), str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    failed = 0
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("stripe_server.py did not start")
                time.sleep(0.05)
        stripe = Stripe(f"http://127.0.0.1:{port}")
        for check in CHECKS:
            try:
                check(stripe)
                print(f"ok   {check.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {check.__name__}")
                traceback.print_exc(file=sys.stdout)
        if failed:
            log.seek(0)
            print("--- stripe_server.py's log ---\n" + log.read())
    finally:
        server.terminate()
        server.wait(timeout=10)
        webhook.shutdown()
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
