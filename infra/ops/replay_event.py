#!/usr/bin/env python3
"""Delivers one Stripe event to the shop's webhook again, as Stripe would: read from Stripe's API
(`GET /v1/events/{id}`, so it is Stripe's own event, not a copy from a log), signed now with the
webhook secret, posted to `/webhooks/stripe`.

  make replay-event EVENT=evt_... [STACK=<stack>]     (or python3 infra/ops/replay_event.py evt_... --stack <stack>)

The webhook applies each event once (it records the event id with its effect), so replaying one
that was applied changes nothing; one whose effect was lost (a failed delivery Stripe gave up on
after three days, a bug since fixed) is applied now, and what it owes (fulfilment, mails) is sent.

- On AWS (--stack): the secret key and the webhook secret are read from the SSM parameters the
  stack names (StripeSecretKeyParameter, StripeWebhookSecretParameter), the webhook's address from
  its ApiUrl output. Nothing secret is printed.
- Locally (default): STRIPE_API_BASE, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and SHOP_API_URL as
  the test stack exports them, else `make dev`'s.

Prints one line: the event, and the webhook's status and answer. Exit status 1 unless it is 2xx.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

STRIPE_API = "https://api.stripe.com"
# make dev's (infra/local/stack.py).
DEV = {
    "STRIPE_API_BASE": f"http://127.0.0.1:{os.environ.get('SHOP_STRIPE_PORT', '12111')}",
    "STRIPE_SECRET_KEY": "sk_test_local_shop",
    "STRIPE_WEBHOOK_SECRET": "whsec_local_shop_webhook_secret",
    "SHOP_API_URL": f"http://127.0.0.1:{os.environ.get('SHOP_PORT', '3000')}",
}


def local_settings() -> tuple:
    get = lambda name: os.environ.get(name) or DEV[name]
    return get("STRIPE_API_BASE"), get("STRIPE_SECRET_KEY"), get("STRIPE_WEBHOOK_SECRET"), get("SHOP_API_URL")


def stack_settings(stack: str) -> tuple:
    import boto3

    region = os.environ.get("AWS_REGION") or None
    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    ssm = boto3.client("ssm", region_name=region)
    secret = lambda name: ssm.get_parameter(Name=parameters[name], WithDecryption=True)["Parameter"]["Value"]
    return STRIPE_API, secret("StripeSecretKeyParameter"), secret("StripeWebhookSecretParameter"), outputs["ApiUrl"]


def call(request: urllib.request.Request) -> tuple:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("event", help="the event's id, evt_...")
    parser.add_argument("--stack", help="the deployed stack (else the local one)")
    args = parser.parse_args()
    if not args.event.startswith("evt_") or not args.event.replace("_", "").isalnum():
        print(f"replay: {args.event!r} is not a Stripe event id (evt_...)", file=sys.stderr)
        return 1
    api, key, secrets, shop = stack_settings(args.stack) if args.stack else local_settings()
    read = urllib.request.Request(f"{api.rstrip('/')}/v1/events/{args.event}")
    read.add_header("Authorization", f"Bearer {key}")
    status, body = call(read)
    if status != 200:
        print(f"replay: Stripe answered {status} for {args.event}: {body}", file=sys.stderr)
        return 1
    # The event as Stripe sends it: its JSON, signed with the current secret (the first of two
    # while rotating) at the time of sending.
    payload = json.dumps(json.loads(body)).encode()
    secret = secrets.split(",")[0].strip()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    deliver = urllib.request.Request(f"{shop.rstrip('/')}/webhooks/stripe", data=payload, method="POST")
    deliver.add_header("Content-Type", "application/json; charset=utf-8")
    deliver.add_header("Stripe-Signature", f"t={timestamp},v1={signature}")
    status, answer = call(deliver)
    print(f"replay: {args.event} delivered, the webhook answered {status} {answer}")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
