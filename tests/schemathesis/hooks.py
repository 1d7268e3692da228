"""Schemathesis hooks (run.sh sets SCHEMATHESIS_HOOKS=hooks): POST /checkout carries its cart in
the body, where the config file's parameters do not reach, so the generated bodies get the cart
fixtures.py filled for it; without it nearly every checkout met a 404 before the shop's logic."""

import os

import schemathesis

CART = {
    "cart_id": os.environ.get("SCHEMATHESIS_CHECKOUT_CART_ID"),
    "cart_token": os.environ.get("SCHEMATHESIS_CHECKOUT_CART_TOKEN"),
}


@schemathesis.hook
def map_body(ctx, body):
    operation = ctx.operation
    if operation.method.upper() == "POST" and operation.path == "/checkout" and isinstance(body, dict):
        for field, value in CART.items():
            # A body that leaves the field out (or nulls the token) stays as generated.
            if value and body.get(field) is not None:
                body[field] = value
    return body
