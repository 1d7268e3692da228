#!/usr/bin/env python3
"""Moves the messages of a queue's dead-letter queue back to the queue, once their cause is fixed.

  make redrive QUEUE=Fulfillment [STACK=<stack>]      (or python3 infra/ops/redrive.py Fulfillment --stack <stack>)

QUEUE is one of the template's queues without "Queue": Campaign, MailEvents, Email, Fulfillment,
ReservationExpiry. Every consumer is idempotent, so a message handled before does its work once;
one that fails again goes back to the dead-letter queue after its retries.

- On AWS (no AWS_ENDPOINT_URL_SQS), the queues are the stack's (CloudFormation names them) and
  SQS moves the messages itself (StartMessageMoveTask); this waits for the task and reports it.
- Locally (AWS_ENDPOINT_URL_SQS set, as in the tests' stack; `--local` for `make dev`'s, on its
  fixed port), the emulator has no move task, so this does what the task does: each message is
  sent to the queue with its body and message attributes, then deleted from the dead-letter
  queue.

Prints one line: how many messages moved. Exit status 1 when the task failed.
"""

import argparse
import os
import sys
import time

import boto3

QUEUES = ("Campaign", "MailEvents", "Email", "Fulfillment", "ReservationExpiry")
DEADLINE_S = 15 * 60
# make dev's SQS (infra/local/stack.py, SHOP_SQS_PORT).
DEV_SQS = f"http://127.0.0.1:{os.environ.get('SHOP_SQS_PORT', '8011')}"


def local_urls(sqs, queue: str) -> tuple:
    prefix = os.environ.get("SHOP_RESOURCE_PREFIX", "shop")
    url = lambda name: sqs.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"]
    return url(f"{queue}DeadLetterQueue"), url(f"{queue}Queue")


def stack_urls(stack: str, queue: str) -> tuple:
    cloudformation = boto3.client("cloudformation", region_name=os.environ.get("AWS_REGION") or None)
    url = lambda logical: cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    return url(f"{queue}DeadLetterQueue"), url(f"{queue}Queue")


def move_one_by_one(sqs, source: str, destination: str) -> int:
    """What StartMessageMoveTask does, for an emulator without it."""
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return moved
        for message in batch:
            attributes = {
                name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue", "BinaryValue")}
                for name, attribute in message.get("MessageAttributes", {}).items()
            }
            sqs.send_message(QueueUrl=destination, MessageBody=message["Body"], MessageAttributes=attributes)
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def move_task(sqs, source: str, destination: str) -> int:
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source_arn = arn(source)
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=arn(destination))["TaskHandle"]
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        for task in sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", []):
            if task.get("TaskHandle") != handle:
                continue
            if task["Status"] == "COMPLETED":
                return task.get("ApproximateNumberOfMessagesMoved", 0)
            if task["Status"] in ("FAILED", "CANCELLED"):
                raise SystemExit(f"redrive: the move task {task['Status'].lower()}: {task.get('FailureReason', '')}")
        time.sleep(5)
    raise SystemExit(f"redrive: the move task is still running after {DEADLINE_S // 60} minutes; see list-message-move-tasks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queue", choices=QUEUES)
    parser.add_argument("--stack", default=os.environ.get("SHOP_STACK", "serverless-shop"), help="the stack's name on AWS")
    parser.add_argument("--local", action="store_true", help="make dev's stack")
    args = parser.parse_args()
    if args.local:
        os.environ.setdefault("AWS_ENDPOINT_URL_SQS", DEV_SQS)
        for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")):
            os.environ.setdefault(name, value)
    local = bool(os.environ.get("AWS_ENDPOINT_URL_SQS"))
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SQS") or None, region_name=region)
    source, destination = local_urls(sqs, args.queue) if local else stack_urls(args.stack, args.queue)
    moved = move_one_by_one(sqs, source, destination) if local else move_task(sqs, source, destination)
    print(f"redrive: moved {moved} message(s) from {source} to {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
