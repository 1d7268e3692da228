#!/usr/bin/env python3
"""Asks for one mail again: its request is put on the email queue, as the code that owed it puts
it there, and the email sender sends it unless it went out before (its mail log holds each mail
once, so a mail the customer got is not sent twice).

  make resend-mail ORDER=<order id> KIND=order_confirmation [REFERENCE=<shipment or event>] [STACK=<stack>]

KIND is one of the mails of an order (KINDS below); REFERENCE is what
makes a mail one of several (the shipment of a `shipped` mail, the refunded total of a
`refunded` one), as the order's log line of the failed mail names it. For a mail that failed past
its retries and sits in the email dead-letter queue, `make redrive QUEUE=Email` moves all of them.

- On AWS (--stack): the stack's EmailQueue.
- Locally (AWS_ENDPOINT_URL_SQS set, as in the tests' stack; `--local` for `make dev`'s).

Prints one line: the request sent.
"""

import argparse
import json
import os
import sys

import boto3

# The mails of an order (shop_platform::messages::MailKind; tests/tests/operations.rs holds them
# to it). An order lookup's and the support desk's mails name no order.
KINDS = (
    "order_confirmation", "new_order", "shipped", "delivered", "payment_failed", "cancelled", "refunded",
    "order_review", "return_instructions",
)
DEV_SQS = f"http://127.0.0.1:{os.environ.get('SHOP_SQS_PORT', '8011')}"


def queue_url(args) -> tuple:
    if args.stack:
        cloudformation = boto3.client("cloudformation", region_name=os.environ.get("AWS_REGION") or None)
        url = cloudformation.describe_stack_resource(StackName=args.stack, LogicalResourceId="EmailQueue")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
        return boto3.client("sqs", region_name=os.environ.get("AWS_REGION") or None), url
    endpoint = DEV_SQS if args.local else os.environ.get("AWS_ENDPOINT_URL_SQS")
    if not endpoint:
        raise SystemExit("resend: name the --stack, or run on the local stack (--local for make dev's)")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))
    prefix = os.environ.get("SHOP_RESOURCE_PREFIX", "shop")
    return sqs, sqs.get_queue_url(QueueName=f"{prefix}-EmailQueue")["QueueUrl"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("order", help="the order's id")
    parser.add_argument("kind", help="the mail: order_confirmation, shipped, refunded, ...")
    parser.add_argument("--reference", help="what makes it one of several of its kind")
    parser.add_argument("--stack", help="the deployed stack")
    parser.add_argument("--local", action="store_true", help="make dev's stack")
    args = parser.parse_args()
    if not args.order or not all(c.isalnum() or c in "-_" for c in args.order):
        print(f"resend: {args.order!r} is not an order id", file=sys.stderr)
        return 1
    if args.kind not in KINDS:
        print(f"resend: {args.kind!r} is not a mail of an order; one of {', '.join(KINDS)}", file=sys.stderr)
        return 1
    request = {"kind": args.kind, "order_id": args.order}
    if args.reference:
        request["reference"] = args.reference
    sqs, url = queue_url(args)
    trace = lambda value: {"DataType": "String", "StringValue": value}
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(request),
        MessageAttributes={"correlation_id": trace(args.order), "request_id": trace("resend-mail")},
    )
    print(f"resend: asked for {json.dumps(request)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
