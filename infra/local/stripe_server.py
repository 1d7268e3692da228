#!/usr/bin/env python3
"""A small Stripe-compatible API server for the local stack (standard library only).

It follows Stripe's API reference for the calls the shop makes: PaymentIntents (create, retrieve,
confirm, cancel) and Refunds (create, retrieve), with form-encoded requests, Stripe's object and
error JSON, `Authorization: Bearer sk_test_...` (any such key, like stripe-mock), Idempotency-Key
replay (same parameters: same answer; different: 400 idempotency_error), and the test payment
methods pm_card_visa (succeeds), pm_card_chargeDeclined (declined),
pm_card_authenticationRequired (requires_action until its 3D Secure ends: see authenticate()) and
pm_card_createDispute (succeeds, then charge.dispute.created). Like `stripe listen
--forward-to`, it posts every state change as a signed event to the webhook URL, retrying with
backoff on non-2xx.

For a browser it also stands in for Stripe.js: `GET /v3/` serves stripe_js/v3.js (what
https://js.stripe.com/v3/ is in AWS), and the calls that script makes are authenticated as
Stripe.js's are, with the publishable key and the intent's client secret in the request
(`key=pk_test_...&client_secret=pi_..._secret_...`) instead of a secret key. A publishable key is
allowed only on those calls (BROWSER_CALLS: retrieve and confirm one intent, and the stand-in's
own end of a 3D Secure authentication), and only with that intent's client secret; they are
answered with CORS headers, and the intent comes back in the smaller shape Stripe gives a
publishable key. The webhook events are the same whichever key confirmed.

For tests it injects faults (not part of Stripe's API): `POST /_faults` with a secret key and a
JSON rule (`method`, `path` where `*` stands for one segment, `body_contains`: a text of the
request's decoded form body, path or Idempotency-Key, or a list of texts all of which are there,
`times`, `fault`: api_error (500), rate_limit (429), timeout (no answer for `hold_seconds`, then
the connection closes) or reset (the connection is reset unanswered); or, with `method` WEBHOOK,
undelivered: the event whose JSON contains `body_contains` is never delivered, as when Stripe
gave up on it; `when`: before the server does the work, or after it (it
did, and the answer is lost)), answered `{"id": ...}`; `GET /_faults/{id}` tells how often it
fired, `DELETE /_faults/{id}` removes it. It also answers Stripe's reads that the repair tools
and tests make: search of PaymentIntents by one metadata value
(`GET /v1/payment_intents/search?query=metadata['order_id']:'...'`), one event
(`GET /v1/events/{id}`), and Stripe's lists of PaymentIntents, refunds (`payment_intent=` too) and
events (`type=` too), newest first, with `created[gt|gte|lt|lte]`, `limit` and `starting_after`
paging as Stripe pages.

Usage: stripe_server.py PORT   (env: STRIPE_WEBHOOK_URL, STRIPE_WEBHOOK_SECRET)
"""

import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOCK = threading.Lock()
INTENTS: dict = {}
REFUNDS: dict = {}
IDEMPOTENCY: dict = {}
EVENTS: list = []
WEBHOOK_URL = os.environ.get("STRIPE_WEBHOOK_URL", "")
WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "").split(",")[0].strip()
WEBHOOK_ATTEMPTS = 8
STRIPE_JS = Path(__file__).resolve().parent / "stripe_js" / "v3.js"
# The fault rules tests added (see the module's notes), by id, and the next id.
FAULTS: dict = {}
FAULT_IDS = itertools.count(1)
FAULT_KINDS = ("api_error", "rate_limit", "timeout", "reset", "undelivered")
# Longer than the shop's Stripe client waits (STRIPE_TIMEOUT in shared/services/src/payments.rs).
DEFAULT_HOLD_SECONDS = 9.0


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def parse_form(body: str) -> dict:
    """Stripe's form encoding: a[b]=1&a[c]=2 and list[]=x (or list[0]=x) into nested values."""
    out: dict = {}
    for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                if part == "" or part.isdigit():
                    node.setdefault("__list__", []).append(value)
                else:
                    node[part] = value
            else:
                node = node.setdefault(part, {})
    return lists(out)


def lists(node):
    if isinstance(node, dict):
        if set(node) == {"__list__"}:
            return node["__list__"]
        return {k: lists(v) for k, v in node.items()}
    return node


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, code=None, param=None, extra=None):
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": kind, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param
        if extra:
            self.body["error"].update(extra)


def intent_object(**fields) -> dict:
    now = int(time.time())
    intent = {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": 0,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": now,
        "currency": "usd",
        "livemode": False,
        "metadata": {},
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": None,
        "next_action": None,
        "payment_method": None,
        "receipt_email": None,
    }
    intent.update(fields)
    intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
    return intent


def charge_object(intent: dict, amount_refunded: int) -> dict:
    """The Charge a PaymentIntent's successful payment made, as refunds report it."""
    return {
        "id": intent.get("latest_charge") or new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": amount_refunded,
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": intent["created"],
        "currency": intent["currency"],
        "disputed": False,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": intent["id"],
        "refunded": amount_refunded >= intent["amount"],
        "status": "succeeded",
    }


def dispute_object(intent: dict) -> dict:
    """A Dispute of the intent's whole charge, needing the merchant's response within 7 days."""
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": intent["amount"],
        "balance_transactions": [],
        "charge": intent["latest_charge"],
        "created": int(time.time()),
        "currency": intent["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {"enhanced_evidence": {}},
        "evidence_details": {
            "due_by": int(time.time()) + 7 * 24 * 3600,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "network_reason_code": "10.4",
        "payment_intent": intent["id"],
        "reason": "fraudulent",
        "status": "needs_response",
    }


def emit(kind: str, obj: dict) -> None:
    event = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": int(time.time()),
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    EVENTS.append(event)
    if WEBHOOK_URL:
        threading.Thread(target=deliver, args=(event,), daemon=True).start()


def sign(payload: bytes, timestamp: int) -> str:
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(event: dict) -> None:
    payload = json.dumps(event).encode()
    with LOCK:
        # A rule `{"method": "WEBHOOK", "fault": "undelivered", "body_contains": ...}` on the
        # event's JSON: Stripe gave up on this delivery (after its three days of retries).
        lost = take_fault("WEBHOOK", "/webhooks/stripe", payload.decode())
    if lost is not None and lost["fault"] == "undelivered":
        print(f"stripe: {event['id']} ({event['type']}) left undelivered", flush=True)
        return
    delay = 0.5
    for _ in range(WEBHOOK_ATTEMPTS):
        request = urllib.request.Request(WEBHOOK_URL, data=payload, method="POST")
        request.add_header("Content-Type", "application/json; charset=utf-8")
        request.add_header("Stripe-Signature", sign(payload, int(time.time())))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if 200 <= response.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(delay)
        delay = min(delay * 2, 30)
    print(f"stripe: gave up delivering {event['id']} ({event['type']})", flush=True)


def amount_param(params: dict, name: str = "amount") -> int:
    raw = params.get(name)
    if raw is None:
        raise ApiError(400, "invalid_request_error", f"Missing required param: {name}.", "parameter_missing", name)
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request_error", f"Invalid integer: {raw}", "parameter_invalid_integer", name)
    if value < 1:
        raise ApiError(400, "invalid_request_error", "Amount must be at least 1.", "amount_too_small", name)
    return value


def get_intent(intent_id: str) -> dict:
    intent = INTENTS.get(intent_id)
    if intent is None:
        raise ApiError(
            404, "invalid_request_error", f"No such payment_intent: '{intent_id}'", "resource_missing", "intent"
        )
    return intent


def confirm(intent: dict, params: dict) -> dict:
    if intent["status"] in ("succeeded", "canceled", "processing"):
        raise ApiError(
            400,
            "invalid_request_error",
            f"This PaymentIntent's status is {intent['status']}; it cannot be confirmed.",
            "payment_intent_unexpected_state",
            extra={"payment_intent": intent},
        )
    method = params.get("payment_method") or intent.get("payment_method")
    if not method:
        raise ApiError(400, "invalid_request_error", "You must provide a payment method.", "parameter_missing", "payment_method")
    intent["payment_method"] = method
    if method == "pm_card_chargeDeclined":
        intent["status"] = "requires_payment_method"
        error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        }
        intent["last_payment_error"] = error
        emit("payment_intent.payment_failed", intent)
        raise ApiError(402, "card_error", "Your card was declined.", "card_declined", extra={"decline_code": "generic_decline", "payment_intent": intent})
    if method == "pm_card_authenticationRequired":
        intent["status"] = "requires_action"
        intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        emit("payment_intent.requires_action", intent)
        return intent
    if not method.startswith("pm_"):
        raise ApiError(400, "invalid_request_error", f"No such PaymentMethod: '{method}'", "resource_missing", "payment_method")
    return succeed(intent)


def succeed(intent: dict) -> dict:
    """The intent's payment went through: it is charged, and the webhook told."""
    intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None, next_action=None)
    intent["latest_charge"] = new_id("ch")
    emit("payment_intent.succeeded", intent)
    if intent["payment_method"] == "pm_card_createDispute":
        # As in Stripe's test mode: the payment succeeds, then the cardholder disputes it.
        emit("charge.dispute.created", dispute_object(intent))
    return intent


def authenticate(intent: dict, params: dict) -> dict:
    """Ends the 3D Secure authentication an intent in `requires_action` waits for.

    NOT part of Stripe's API: on Stripe, Stripe.js shows the card issuer's challenge (in test
    mode, Stripe's test page with "Complete" and "Fail") and the issuer tells Stripe the outcome.
    The stand-in Stripe.js shows its own two buttons and reports the choice here, as
    `POST /v1/payment_intents/{id}/stand_in_authenticate` with `outcome=complete|fail`. The
    outcomes are Stripe's: completed, the payment goes through (`succeeded`,
    payment_intent.succeeded); failed, the intent is back in `requires_payment_method` with a
    `payment_intent_authentication_failure` as its last_payment_error
    (payment_intent.payment_failed), and the shopper may try another card. A secret key may
    call it too (a test standing in for the shopper).
    """
    if intent["status"] != "requires_action":
        raise ApiError(
            400,
            "invalid_request_error",
            f"This PaymentIntent's status is {intent['status']}; it has no authentication to complete.",
            "payment_intent_unexpected_state",
            extra={"payment_intent": intent},
        )
    outcome = params.get("outcome")
    if outcome == "complete":
        return succeed(intent)
    if outcome != "fail":
        raise ApiError(400, "invalid_request_error", "Invalid outcome: must be one of complete or fail.", "parameter_invalid", "outcome")
    # Stripe keeps the failed method in last_payment_error.payment_method (a whole PaymentMethod
    # object, left out here) and clears the intent's own.
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
            "or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
        },
    )
    emit("payment_intent.payment_failed", intent)
    return intent


def route(method: str, path: str, params: dict) -> tuple:
    parts = [p for p in path.split("/") if p]
    if parts == ["v1", "payment_intents", "search"] and method == "GET":
        return 200, search_intents(params.get("query", ""))
    if parts[:2] == ["v1", "payment_intents"]:
        if method == "POST" and len(parts) == 2:
            currency = params.get("currency", "")
            if len(currency) != 3:
                raise ApiError(400, "invalid_request_error", "Missing required param: currency.", "parameter_missing", "currency")
            intent = intent_object(
                amount=amount_param(params),
                currency=currency.lower(),
                metadata=params.get("metadata", {}),
                description=params.get("description"),
                receipt_email=params.get("receipt_email"),
            )
            if isinstance(params.get("automatic_payment_methods"), dict):
                intent["automatic_payment_methods"] = {"enabled": params["automatic_payment_methods"].get("enabled") == "true"}
            INTENTS[intent["id"]] = intent
            emit("payment_intent.created", intent)
            if params.get("confirm") == "true":
                confirm(intent, params)
            return 200, intent
        if len(parts) == 3 and method == "GET":
            return 200, get_intent(parts[2])
        if len(parts) == 4 and method == "POST" and parts[3] == "confirm":
            return 200, confirm(get_intent(parts[2]), params)
        if len(parts) == 4 and method == "POST" and parts[3] == "stand_in_authenticate":
            return 200, authenticate(get_intent(parts[2]), params)
        if len(parts) == 4 and method == "POST" and parts[3] == "cancel":
            intent = get_intent(parts[2])
            if intent["status"] == "succeeded":
                raise ApiError(400, "invalid_request_error", "You cannot cancel this PaymentIntent because it has a status of succeeded.", "payment_intent_unexpected_state")
            if intent["status"] != "canceled":
                intent.update(status="canceled", canceled_at=int(time.time()), cancellation_reason=params.get("cancellation_reason"))
                emit("payment_intent.canceled", intent)
            return 200, intent
    if parts[:2] == ["v1", "refunds"]:
        if method == "POST" and len(parts) == 2:
            intent = get_intent(params.get("payment_intent", ""))
            if intent["status"] != "succeeded":
                raise ApiError(400, "invalid_request_error", "This PaymentIntent has no successful charge to refund.", "charge_not_refundable")
            refunded = sum(r["amount"] for r in REFUNDS.values() if r["payment_intent"] == intent["id"])
            amount = amount_param(params) if "amount" in params else intent["amount"] - refunded
            if amount < 1 or refunded + amount > intent["amount"]:
                raise ApiError(400, "invalid_request_error", "Refund amount is greater than the unrefunded amount.", "amount_too_large", "amount")
            refund = {
                "id": new_id("re"), "object": "refund", "amount": amount, "currency": intent["currency"],
                "charge": intent.get("latest_charge"), "created": int(time.time()), "metadata": params.get("metadata", {}),
                "payment_intent": intent["id"], "reason": params.get("reason"), "status": "succeeded",
            }
            REFUNDS[refund["id"]] = refund
            emit("charge.refunded", charge_object(intent, refunded + amount))
            return 200, refund
        if method == "GET" and len(parts) == 2:
            intent_id = params.get("payment_intent")
            found = [r for r in REFUNDS.values() if intent_id is None or r["payment_intent"] == intent_id]
            return 200, listed(found, params, "/v1/refunds")
        if method == "GET" and len(parts) == 3:
            refund = REFUNDS.get(parts[2])
            if refund is None:
                raise ApiError(404, "invalid_request_error", f"No such refund: '{parts[2]}'", "resource_missing", "id")
            return 200, refund
    if parts == ["v1", "payment_intents"] and method == "GET":
        return 200, listed(list(INTENTS.values()), params, "/v1/payment_intents")
    if parts == ["v1", "events"] and method == "GET":
        events = [e for e in EVENTS if params.get("type") in (None, e["type"])]
        return 200, listed(events, params, "/v1/events")
    if parts[:2] == ["v1", "events"] and len(parts) == 3 and method == "GET":
        found = [e for e in EVENTS if e["id"] == parts[2]]
        if not found:
            raise ApiError(404, "invalid_request_error", f"No such event: '{parts[2]}'", "resource_missing", "id")
        return 200, found[0]
    if parts == ["v1", "__events"] and method == "GET":
        return 200, {"object": "list", "data": EVENTS[-100:], "has_more": False, "url": "/v1/__events"}
    raise ApiError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")


def listed(objects: list, params: dict, url: str) -> dict:
    """A page of Stripe's list: newest first, `created` bounded by `created[gt|gte|lt|lte]`, at most
    `limit` (1 to 100, default 10), after the object `starting_after` names."""
    created = params.get("created", {})
    if not isinstance(created, dict):
        created = {"eq": created}
    bounds = {"gt": lambda c, v: c > v, "gte": lambda c, v: c >= v, "lt": lambda c, v: c < v,
              "lte": lambda c, v: c <= v, "eq": lambda c, v: c == v}
    for name, value in created.items():
        if name not in bounds or not str(value).lstrip("-").isdigit():
            raise ApiError(400, "invalid_request_error", f"Invalid created[{name}]: {value}", "parameter_invalid", "created")
        objects = [o for o in objects if bounds[name](o["created"], int(value))]
    limit = params.get("limit", "10")
    if not str(limit).isdigit() or not 1 <= int(limit) <= 100:
        raise ApiError(400, "invalid_request_error", "Invalid limit: must be between 1 and 100", "parameter_invalid", "limit")
    # Newest first; objects of one second keep the order they were made in, reversed.
    ordered = [o for _, o in sorted(enumerate(objects), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True)]
    after = params.get("starting_after")
    if after is not None:
        ids = [o["id"] for o in ordered]
        if after not in ids:
            raise ApiError(400, "invalid_request_error", f"No such object: '{after}'", "resource_missing", "starting_after")
        ordered = ordered[ids.index(after) + 1:]
    page = ordered[: int(limit)]
    return {"object": "list", "data": page, "has_more": len(ordered) > len(page), "url": url}


def search_intents(query: str) -> dict:
    """Stripe's PaymentIntent search, for the one clause tests use: `metadata['key']:'value'`."""
    match = re.fullmatch(r"\s*metadata\['([^']+)'\]:'([^']*)'\s*", query)
    if match is None:
        raise ApiError(400, "invalid_request_error", f"Unsupported search query: {query}", "parameter_invalid", "query")
    key, value = match.groups()
    found = [i for i in INTENTS.values() if i.get("metadata", {}).get(key) == value]
    return {"object": "search_result", "data": found, "has_more": False, "url": "/v1/payment_intents/search"}


def fault_rule(body: str) -> dict:
    """A fault rule from a test's JSON, checked."""
    try:
        rule = json.loads(body or "null")
    except ValueError:
        raise ApiError(400, "invalid_request_error", "A fault rule is a JSON object.")
    if not isinstance(rule, dict) or rule.get("fault") not in FAULT_KINDS:
        raise ApiError(400, "invalid_request_error", f"A fault rule needs a fault, one of {', '.join(FAULT_KINDS)}.")
    if rule.get("when", "before") not in ("before", "after"):
        raise ApiError(400, "invalid_request_error", "when is before or after.")
    known = {"method", "path", "body_contains", "times", "fault", "when", "hold_seconds"}
    if set(rule) - known:
        raise ApiError(400, "invalid_request_error", f"Unknown fields: {sorted(set(rule) - known)}.")
    contains = rule.get("body_contains") or []
    contains = [contains] if isinstance(contains, str) else contains
    if not isinstance(contains, list) or not all(isinstance(part, str) for part in contains):
        raise ApiError(400, "invalid_request_error", "body_contains is a text, or a list of texts all of which must be there.")
    times = rule.get("times", 1)
    if not isinstance(times, int) or times < 1:
        raise ApiError(400, "invalid_request_error", "times is a whole number of at least 1.")
    return {
        "method": rule.get("method"),
        "path": rule.get("path"),
        "body_contains": contains,
        "times": times,
        "fault": rule["fault"],
        "when": rule.get("when", "before"),
        "hold_seconds": float(rule.get("hold_seconds", DEFAULT_HOLD_SECONDS)),
        "fired": 0,
    }


def path_matches(pattern, path: str) -> bool:
    """Whether `path` is `pattern`'s, `*` standing for one segment."""
    if pattern is None:
        return True
    want, have = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have))


def take_fault(method: str, path: str, text: str):
    """The first rule that matches the call and has not fired its times, counted as fired."""
    for rule_id, rule in FAULTS.items():
        if (
            rule["fired"] < rule["times"]
            and (rule["fault"] == "undelivered") == (method == "WEBHOOK")
            and rule["method"] in (None, method)
            and path_matches(rule["path"], path)
            and all(part in text for part in rule["body_contains"])
        ):
            rule["fired"] += 1
            print(f"stripe: fault {rule_id} ({rule['fault']}, {rule['when']}) on {method} {path}", flush=True)
            return rule
    return None


def fault_route(method: str, parts: list, body: str) -> tuple:
    """The fault routes: POST /_faults, GET and DELETE /_faults/{id}."""
    if method == "POST" and len(parts) == 1:
        rule_id = str(next(FAULT_IDS))
        FAULTS[rule_id] = fault_rule(body)
        return 201, {"id": rule_id}
    if len(parts) == 2 and parts[1] in FAULTS:
        if method == "GET":
            rule = FAULTS[parts[1]]
            return 200, {"id": parts[1], "fired": rule["fired"], "remaining": rule["times"] - rule["fired"]}
        if method == "DELETE":
            del FAULTS[parts[1]]
            return 200, {"id": parts[1], "deleted": True}
    raise ApiError(404, "invalid_request_error", "No such fault rule.")


# The calls a publishable key may make, as Stripe.js makes them: retrieve and confirm one
# PaymentIntent, with its client secret (Stripe allows a few more, e.g. creating a PaymentMethod;
# the shop's storefront needs none of them), and the stand-in's own end of an authentication.
BROWSER_CALLS = {("GET", None), ("POST", "confirm"), ("POST", "stand_in_authenticate")}

# What a PaymentIntent shows to a publishable key: Stripe's API reference marks these fields
# "retrievable with publishable key"; the rest (metadata, amount_received, latest_charge, ...)
# only a secret key sees.
PUBLISHABLE_FIELDS = (
    "id", "object", "amount", "automatic_payment_methods", "canceled_at", "cancellation_reason",
    "capture_method", "client_secret", "confirmation_method", "created", "currency", "description",
    "last_payment_error", "livemode", "next_action", "payment_method", "payment_method_types",
    "receipt_email", "status",
)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Request-Id, Idempotent-Replayed",
}


def browser_call(method: str, parts: list) -> bool:
    """Whether this is one of the calls Stripe.js makes on one PaymentIntent."""
    if parts[:2] != ["v1", "payment_intents"] or len(parts) not in (3, 4):
        return False
    return (method, parts[3] if len(parts) == 4 else None) in BROWSER_CALLS


def publishable_key(auth: str, params: dict):
    """The publishable key a request authenticates with: Stripe.js sends it as the `key`
    parameter (in the form body of a POST, in the query of a GET); a Bearer one works too."""
    if auth.startswith("Bearer pk_"):
        return auth[len("Bearer "):]
    key = params.get("key") if not auth else None
    return key if isinstance(key, str) and key.startswith("pk_") else None


def check_client_secret(intent_id: str, params: dict) -> None:
    """A publishable key reaches a PaymentIntent only with that intent's client secret."""
    intent = get_intent(intent_id)
    secret = params.get("client_secret")
    if not secret:
        raise ApiError(400, "invalid_request_error", "Missing required param: client_secret.", "parameter_missing", "client_secret")
    if not hmac.compare_digest(str(secret), intent["client_secret"]):
        raise ApiError(
            400,
            "invalid_request_error",
            "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
            "payment_intent_invalid_parameter",
            "client_secret",
        )


def publishable_view(result: dict) -> dict:
    """An answer as a publishable key gets it: the intent (alone or in an error) in its smaller shape."""
    def view(intent: dict) -> dict:
        return {field: intent[field] for field in PUBLISHABLE_FIELDS if field in intent}

    result = json.loads(json.dumps(result))
    if result.get("object") == "payment_intent":
        return view(result)
    error = result.get("error")
    if isinstance(error, dict) and isinstance(error.get("payment_intent"), dict):
        error["payment_intent"] = view(error["payment_intent"])
    return result


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("stripe: " + (fmt % args) + "\n")
        sys.stdout.flush()

    def answer(self, status: int, body: dict, replayed: bool = False, cors: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", new_id("req"))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        if cors:
            for name, value in CORS_HEADERS.items():
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def inject(self, rule: dict) -> None:
        """Answers as Stripe failing would: a 500 api_error, a 429 rate_limit, no answer in time,
        or a connection reset."""
        if rule["fault"] == "api_error":
            self.answer(500, {"error": {"type": "api_error", "message": "An unexpected error occurred (injected)."}})
        elif rule["fault"] == "rate_limit":
            message = "Too many requests hit the API too quickly (injected)."
            self.answer(429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": message}})
        else:
            if rule["fault"] == "timeout":
                time.sleep(rule["hold_seconds"])
            # Closed with SO_LINGER 0: the client sees a reset, not an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    def stripe_js(self) -> None:
        """GET /v3/: the stand-in Stripe.js, read afresh on every request."""
        try:
            data = STRIPE_JS.read_bytes()
        except OSError as error:
            self.answer(500, {"error": {"type": "api_error", "message": f"stand-in Stripe.js unreadable: {error}"}}, cors=True)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self):
        """A CORS preflight. Stripe.js's own calls (form bodies, no custom headers) need none;
        like api.stripe.com, any path answers one."""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(204)
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "Authorization, Content-Type, Idempotency-Key, Stripe-Version")
        self.send_header("Access-Control-Max-Age", "300")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def handle_any(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urllib.parse.urlsplit(self.path)
        if method == "GET" and url.path in ("/v3", "/v3/"):
            self.stripe_js()
            return
        auth = self.headers.get("Authorization", "")
        params = parse_form(body if method == "POST" else url.query)
        parts = [p for p in url.path.split("/") if p]
        publishable = None if auth.startswith("Bearer sk_test_") else publishable_key(auth, params)
        cors = publishable is not None or browser_call(method, parts)
        if publishable is None and not auth.startswith("Bearer sk_test_"):
            self.answer(401, {"error": {"type": "authentication_error", "message": "Invalid API Key provided."}}, cors=cors)
            return
        if publishable is not None and not (publishable.startswith("pk_test_") and browser_call(method, parts)):
            # Stripe's answer to a publishable key on a call that needs a secret one (a live
            # key, which the local server has no use for, is refused the same way).
            message = "This API call cannot be made with a publishable API key. Please use a secret API key."
            self.answer(401, {"error": {"type": "invalid_request_error", "message": message}}, cors=True)
            return
        if parts[:1] == ["_faults"]:
            with LOCK:
                try:
                    status, result = fault_route(method, parts, body)
                except ApiError as error:
                    status, result = error.status, error.body
            self.answer(status, result)
            return
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        with LOCK:
            fault = take_fault(method, url.path, f"{url.path} {key or ''} {urllib.parse.unquote_plus(body)}")
        if fault is not None and fault["when"] == "before":
            self.inject(fault)
            return
        with LOCK:
            status, result, replayed = self.perform(method, url.path, parts, params, body, key, publishable)
        if fault is not None:
            self.inject(fault)
            return
        self.answer(status, result, replayed=replayed, cors=cors)

    def perform(self, method, path, parts, params, body, key, publishable) -> tuple:
        """The call's answer (status, object, replayed): the one recorded for its Idempotency-Key,
        else the call done now (and recorded, unless it failed on the server's side)."""
        if key:
            fingerprint = hashlib.sha256(f"{method} {path} {body}".encode()).hexdigest()
            seen = IDEMPOTENCY.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    message = "Keys for idempotent requests can only be used with the same parameters they were first used with."
                    return 400, {"error": {"type": "idempotency_error", "message": message}}, False
                return seen[1], seen[2], True
        try:
            if publishable is not None:
                check_client_secret(parts[2], params)
            status, result = route(method, path, params)
        except ApiError as error:
            status, result = error.status, error.body
        if publishable is not None:
            result = publishable_view(result)
        if key and status < 500:
            IDEMPOTENCY[key] = (fingerprint, status, json.loads(json.dumps(result)))
        return status, result, False

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print(f"stripe: listening on 127.0.0.1:{sys.argv[1]}, webhooks to {WEBHOOK_URL or '(none)'}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
