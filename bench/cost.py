"""What 1,000 orders cost on AWS, from this run's measurements and AWS's public prices.

Every input is in this file or in bench/requests.json and bench/warm.json, so a reader can redo the
sum with other prices, another journey or another latency. Used by bench/report.py.
"""

# AWS's public on-demand prices, us-east-1 (USD).
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "ses_mail": 0.10 / 1000,
}
MEMORY_GB = 128 / 1024  # template.yaml's Globals MemorySize
# A call's round trip inside an AWS region (DynamoDB, SQS, SES) and to Stripe's API, in ms. The
# emulators' times measured here are no guide to AWS's, so these are assumptions, on the slow side.
AWS_CALL_MS = 8.0
STRIPE_CALL_MS = 400.0
# The handler's own time where no warm run measured it (cart creation, worker, mail sender, admin).
OWN_MS_UNMEASURED = 10.0

# One order's journey: (operation in bench/requests.json, times per order, HTTP requests through
# API Gateway each time, Lambda invocations each time, Stripe calls each time).
JOURNEY = [
    ("browse page", 5, 1, 1, 0),
    ("product", 3, 1, 1, 0),
    ("cart (POST /carts)", 1, 1, 1, 0),
    ("cart line", 2, 1, 1, 0),
    ("checkout", 1, 1, 1, 1),
    # Stripe's webhook, the fulfillment worker, the mail sender for the two mails.
    ("payment to packing", 1, 1, 4, 0),
    # The merchant's admin call and the mail sender, twice.
    ("shipment", 1, 1, 2, 0),
    ("delivery", 1, 1, 2, 0),
]


def row_for(rows: list, prefix: str) -> dict:
    for row in rows:
        if row["operation"].startswith(prefix):
            return row
    raise KeyError(f"no measurement named {prefix!r}")


def own_ms(warm_rows: list, prefix: str) -> tuple:
    """The measured warm own time (p50) of `prefix`, or the assumption, and which it was."""
    for row in warm_rows:
        if row["operation"].startswith(prefix):
            return row["own_p50_ms"], "measured"
    return OWN_MS_UNMEASURED, "assumed"


def per_thousand_orders(requests: dict, warm: dict) -> dict:
    rows, warm_rows = requests["rows"], warm.get("rows", [])
    lines, totals = [], {"http": 0, "invocations": 0, "gb_seconds": 0.0, "wru": 0.0, "rru": 0.0, "sqs": 0, "mails": 0}
    for prefix, times, http, invocations, stripe in JOURNEY:
        row = row_for(rows, prefix)
        aws_calls = sum(row["dynamodb"].values()) + sum(row["sqs"].values()) + (1 if row["ses"] else 0)
        own, source = own_ms(warm_rows, prefix)
        duration_ms = invocations * own + aws_calls * AWS_CALL_MS + stripe * STRIPE_CALL_MS
        # SQS: the sends measured, plus the event source's receive and delete of each message sent.
        sqs = sum(row["sqs"].values()) * 3
        line = {
            "operation": row["operation"], "per_order": times, "invocations": invocations, "own_ms": own,
            "own_ms_is": source, "aws_calls": aws_calls, "stripe_calls": stripe,
            "lambda_ms": round(duration_ms, 1),
            "write_units": row["dynamodb_capacity"]["write_units"], "read_units": row["dynamodb_capacity"]["read_units"],
            "sqs_requests": sqs, "mails": row["ses"],
        }
        lines.append(line)
        totals["http"] += times * http
        totals["invocations"] += times * invocations
        totals["gb_seconds"] += times * duration_ms / 1000 * MEMORY_GB
        totals["wru"] += times * line["write_units"]
        totals["rru"] += times * line["read_units"]
        totals["sqs"] += times * sqs
        totals["mails"] += times * row["ses"]
    orders = 1000
    usd = {
        "Lambda compute (arm64, 128 MB)": totals["gb_seconds"] * orders * PRICES["lambda_gb_second_arm64"],
        "Lambda requests": totals["invocations"] * orders * PRICES["lambda_request"],
        "API Gateway HTTP API": totals["http"] * orders * PRICES["http_api_request"],
        "DynamoDB writes": totals["wru"] * orders * PRICES["dynamodb_write_unit"],
        "DynamoDB reads": totals["rru"] * orders * PRICES["dynamodb_read_unit"],
        "SQS": totals["sqs"] * orders * PRICES["sqs_request"],
        "SES": totals["mails"] * orders * PRICES["ses_mail"],
    }
    return {
        "orders": orders,
        "prices": PRICES,
        "assumptions": {"memory_gb": MEMORY_GB, "aws_call_ms": AWS_CALL_MS, "stripe_call_ms": STRIPE_CALL_MS,
                        "own_ms_unmeasured": OWN_MS_UNMEASURED},
        "journey": lines,
        "per_order": {k: round(v, 4) for k, v in totals.items()},
        "usd": {k: round(v, 4) for k, v in usd.items()},
        "usd_total": round(sum(usd.values()), 4),
    }


def per_thousand_recipients(requests: dict) -> dict:
    row = row_for(requests["rows"], "campaign")
    units = row["dynamodb_capacity"]
    usd = {
        "DynamoDB writes": units["write_units"] * PRICES["dynamodb_write_unit"],
        "DynamoDB reads": units["read_units"] * PRICES["dynamodb_read_unit"],
        "SES": row["ses"] * PRICES["ses_mail"],
    }
    return {"recipients": row["ses"], "usd": {k: round(v, 5) for k, v in usd.items()}, "usd_total": round(sum(usd.values()), 5)}
