"""The peer a shop function's cold start is measured against: the browse listing (one Query of
the catalog listing on gsi1, the first 20 products) written the usual way, in Python with boto3,
run by the AWS Lambda Python runtime interface client (awslambdaric)."""

import json
import os

import boto3

TABLE = os.environ["SHOP_TABLE"]
DYNAMODB = boto3.client("dynamodb")


def handler(event, context):
    page = DYNAMODB.query(
        TableName=TABLE,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :listing",
        ExpressionAttributeValues={":listing": {"S": "LIST#CATALOG"}},
        Limit=20,
    )
    items = [
        {"id": item["id"]["S"], "slug": item.get("slug", {}).get("S"), "title": item.get("title", {}).get("S")}
        for item in page.get("Items", [])
        if "id" in item
    ]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"items": items, "next_cursor": None}),
    }
