#!/usr/bin/env python3
"""Re-signs a sample webhook event (events/payment-webhook/*.json) with a webhook secret and the
current time, as Stripe would, so `cargo lambda invoke` or the local gateway accepts it.

Usage: sign_event.py FILE [SECRET]   (SECRET defaults to $STRIPE_WEBHOOK_SECRET or the local one)
"""

import hashlib
import hmac
import json
import os
import sys
import time


def main() -> None:
    path = sys.argv[1]
    secret = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_shop_webhook_secret")
    secret = secret.split(",")[0].strip()
    with open(path) as f:
        event = json.load(f)
    timestamp = int(time.time())
    payload = event["body"].encode()
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    event["headers"]["stripe-signature"] = f"t={timestamp},v1={signature}"
    with open(path, "w") as f:
        json.dump(event, f, indent=2)
        f.write("\n")
    print(f"signed {path} at t={timestamp}")


if __name__ == "__main__":
    main()
