#!/usr/bin/env python3
"""Campaign: the fan-out of one campaign to RECIPIENTS subscribers, SES calls counted.

Runs inside a local stack (`python3 infra/local/stack.py run -- python3 bench/campaign.py`),
with the release binary target/lambda/email-campaign/bootstrap run as Lambda runs it
(bench/lambda_host.py), and this script standing in for Lambda's SQS event source:

- SES is a counting stub (a loopback server answering SESv2's SendBulkEmail and SendEmail as
  the Rust SDK calls them, every call and every recipient counted), not the local SES: that
  keeps 100,000 mails out of memory and out of the figure. The results say so (`ses_stub`).
- The campaign gets a table of its own (the shop table's keys and indexes, PAY_PER_REQUEST)
  and a queue of its own (VisibilityTimeout 180, as the template's CampaignQueue), so that nothing
  else is in the audience's index; both are deleted at the end.
- RECIPIENTS confirmed subscribers are written straight into that table with BatchWriteItem,
  each as `shop_store::marketing::confirmed_item` writes it (`SUBSCRIBER#<email> / SUBSCRIBER`, in the
  audience `all` on gsi1). That is setup, timed apart (`seconds_seeding`).
- The campaign (audience "subscribers") is created and sent with API Gateway HTTP API v2
  events handed to the binary. The function itself does not authenticate: the /admin routes
  are guarded by API Gateway's IAM authorizer (the local gateway: a bearer token), so the
  events carry the authorizer's `iam` context as the samples do, and the stack's admin token.
- The bench queue is polled (ReceiveMessage, up to 10, 1 s wait) and each message handed, as an
  SQS event of one record (BatchSize 1), to one of CONCURRENCY instances (the template's
  MaximumConcurrency default, 2), each its own process; a message is deleted once answered
  unless the answer lists it in batchItemFailures (then it reappears after its visibility
  timeout). This goes on until the campaign is sent and the queue is empty.

Writes bench/campaign.json (bench/campaign-<N>.json for another N), prints one line; exits
non-zero when the deadline passed or a check failed (sent == recipients == RECIPIENTS, SES calls
== ceil(RECIPIENTS / 50), every address mailed exactly once). Env: BENCH_CAMPAIGN_RECIPIENTS
(10000), BENCH_CAMPAIGN_CONCURRENCY (2), BENCH_CAMPAIGN_DEADLINE (seconds for the whole run,
seeding included, 120 + 0.02 per recipient), BENCH_CAMPAIGN_TRACE
(1: time every request the function makes, per service; a diagnosis, not the figure).
Standard library only.
"""

import concurrent.futures
import http.client
import json
import math
import os
import queue
import secrets
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from lambda_host import Instance, LoopbackHandler, QuietServer, Upstreams, function_env, serve  # noqa: E402

BINARY = "email-campaign"
BOOTSTRAP = ROOT / "target" / "lambda" / BINARY / "bootstrap"
EVENTS = ROOT / "events" / BINARY

DYNAMODB = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
SQS = os.environ["AWS_ENDPOINT_URL_SQS"]
SHOP_TABLE = os.environ.get("SHOP_TABLE", "shop-ShopTable")
REGION = os.environ.get("AWS_REGION", "us-east-1")
ADMIN_TOKEN = os.environ.get("SHOP_ADMIN_TOKEN", "")
# `make bench` sends to 10,000 to stay within its 15 minutes; 100,000 is its own command,
# `make bench-campaign`.
DEFAULT_RECIPIENTS = 10000
RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", DEFAULT_RECIPIENTS))
CONCURRENCY = int(os.environ.get("BENCH_CAMPAIGN_CONCURRENCY", 2))
DEADLINE_S = float(os.environ.get("BENCH_CAMPAIGN_DEADLINE", 120 + 0.02 * RECIPIENTS))
OUT = BENCH / ("campaign.json" if RECIPIENTS == DEFAULT_RECIPIENTS else f"campaign-{RECIPIENTS}.json")
# BENCH_CAMPAIGN_TRACE=1 puts lambda_host's timing pass-through in front of each service the
# function calls, to see where the time goes (one more loopback hop per request: not the figure).
TRACE = os.environ.get("BENCH_CAMPAIGN_TRACE", "") not in ("", "0")

BATCH_SIZE = 50  # shop_domain::marketing::BATCH_SIZE
WRITE_BATCH = 25  # BatchWriteItem's most
CONSENT_WORDING = "2026-11-newsletter-v1"  # shop_domain::marketing::CONSENT_WORDING
VISIBILITY_TIMEOUT = 180  # template.yaml CampaignQueue
INVOCATION_TIMEOUT = 30.0  # template.yaml CampaignFunction Timeout
CALL_TIMEOUT = 60.0

STARTED = time.monotonic()
DEADLINE = STARTED + DEADLINE_S


class DeadlinePassed(Exception):
    pass


def left() -> float:
    remaining = DEADLINE - time.monotonic()
    if remaining <= 0:
        raise DeadlinePassed(f"campaign: the run's deadline of {DEADLINE_S:.0f} s has passed")
    return remaining


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


# -- the emulators' JSON APIs ---------------------------------------------------------------


class AwsError(Exception):
    def __init__(self, status, body):
        super().__init__(f"{status}: {str(body)[:500]}")
        self.status, self.body = status, body


def aws(endpoint: str, service: str, target: str, body: dict, timeout: float = CALL_TIMEOUT) -> dict:
    """One JSON-protocol call (the emulators check no signature; the credential names the region)."""
    stamp = time.strftime("%Y%m%d", time.gmtime())
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": target,
            "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{stamp}/{REGION}/{service}/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            raise AwsError(error.code, json.loads(text or b"{}")) from None
        except ValueError:
            raise AwsError(error.code, text) from None
    return json.loads(text or b"{}")


def dynamodb(action: str, body: dict, timeout: float = CALL_TIMEOUT) -> dict:
    return aws(DYNAMODB, "dynamodb", f"DynamoDB_20120810.{action}", body, timeout)


def sqs(action: str, body: dict, timeout: float = CALL_TIMEOUT) -> dict:
    return aws(SQS, "sqs", f"AmazonSQS.{action}", body, timeout)


def create_table(name: str) -> None:
    """A table with the shop table's keys and indexes."""
    shop = dynamodb("DescribeTable", {"TableName": SHOP_TABLE})["Table"]
    spec = {
        "TableName": name,
        "KeySchema": shop["KeySchema"],
        "AttributeDefinitions": shop["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in shop.get("GlobalSecondaryIndexes") or []
    ]
    if indexes:
        spec["GlobalSecondaryIndexes"] = indexes
    local = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in shop.get("LocalSecondaryIndexes") or []
    ]
    if local:
        spec["LocalSecondaryIndexes"] = local
    dynamodb("CreateTable", spec)
    for _ in range(100):
        if dynamodb("DescribeTable", {"TableName": name})["Table"].get("TableStatus") == "ACTIVE":
            return
        time.sleep(0.1)
    raise RuntimeError(f"table {name} did not become ACTIVE")


def email_of(i: int) -> str:
    return f"bench-{i:06d}@example.com"


def subscriber_item(email: str, now: int) -> dict:
    """`shop_store::marketing::confirmed_item` of a confirmed subscriber (serde_dynamo of `Subscriber`,
    `None` fields left out, plus its key and its gsi1 entry in the audience `all`)."""
    return {
        "pk": {"S": f"SUBSCRIBER#{email}"},
        "sk": {"S": "SUBSCRIBER"},
        "email": {"S": email},
        "status": {"S": "confirmed"},
        "source": {"S": "bench"},
        "unsubscribe_token": {"S": secrets.token_urlsafe(32)},
        "created_at": {"N": str(now)},
        "consented_at": {"N": str(now)},
        "consent_wording": {"S": CONSENT_WORDING},
        "version": {"N": "1"},
        "gsi1pk": {"S": "AUDIENCE#all"},
        "gsi1sk": {"S": email},
    }


def write_batch(table: str, items: list) -> int:
    """Writes up to 25 items, sending unprocessed ones again; answers the calls made."""
    requests = [{"PutRequest": {"Item": item}} for item in items]
    calls = 0
    while requests:
        left()
        answer = dynamodb("BatchWriteItem", {"RequestItems": {table: requests}})
        calls += 1
        requests = (answer.get("UnprocessedItems") or {}).get(table, [])
        if requests:
            time.sleep(0.05)
    return calls


def seed(table: str, count: int) -> dict:
    """`count` confirmed subscribers; a few client threads keep the emulator busy while the next
    batch is encoded."""
    now = int(time.time())
    started = time.perf_counter()
    chunks = [range(start, min(start + WRITE_BATCH, count)) for start in range(0, count, WRITE_BATCH)]
    calls = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(write_batch, table, [subscriber_item(email_of(i), now) for i in chunk]) for chunk in chunks
        ]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            calls += future.result()
            if done % 400 == 0:
                log(f"seeded {done * WRITE_BATCH} of {count}")
    return {"seconds": time.perf_counter() - started, "batch_write_calls": calls}


def campaign_item(table: str, campaign_id: str) -> dict:
    item = dynamodb(
        "GetItem",
        {"TableName": table, "Key": {"pk": {"S": f"CAMPAIGN#{campaign_id}"}, "sk": {"S": "CAMPAIGN"}},
         "ConsistentRead": True},
    ).get("Item") or {}

    def number(name):
        return int(item.get(name, {}).get("N", "0"))

    sent, failed, suppressed, recipients = number("sent"), number("failed"), number("suppressed"), number("recipients")
    fanned_out = bool(item.get("fanned_out", {}).get("BOOL", False))
    status = item.get("status", {}).get("S", "")
    if status != "draft" and fanned_out and sent + failed + suppressed >= recipients:
        status = "sent"
    return {
        "status": status,
        "recipients": recipients,
        "sent": sent,
        "failed": failed,
        "suppressed": suppressed,
        "ses_calls": number("bulk_calls"),
        "next_page": number("next_page"),
        "fanned_out": fanned_out,
    }


def queue_depth(url: str) -> dict:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    attributes = sqs("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names}).get("Attributes", {})
    return {name: int(attributes.get(name, 0)) for name in names}


# -- the counting SES stub -------------------------------------------------------------------


class SesStub(LoopbackHandler):
    """SESv2's REST JSON API as far as the function calls it; everything else is a counted 404."""

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        counts = self.server.counts
        if self.command == "POST" and path == "/v2/email/outbound-bulk-emails":
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            entries = request.get("BulkEmailEntries") or []
            with counts.lock:
                counts.bulk_calls += 1
                counts.bulk_entries += len(entries)
                counts.last_call = time.perf_counter()
                for entry in entries:
                    for address in (entry.get("Destination") or {}).get("ToAddresses") or []:
                        counts.addresses[address] += 1
            results = [{"Status": "SUCCESS", "MessageId": f"bench-{uuid.uuid4()}"} for _ in entries]
            return self.answer(200, {"BulkEmailEntryResults": results})
        if self.command == "POST" and path == "/v2/email/outbound-emails":
            with counts.lock:
                counts.send_email_calls += 1
            return self.answer(200, {"MessageId": f"bench-{uuid.uuid4()}"})
        with counts.lock:
            counts.other[f"{self.command} {path}"] += 1
        return self.answer(404, {"message": f"the bench's SES stub does not answer {self.command} {path}"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def answer(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SesCounts:
    def __init__(self):
        self.lock = threading.Lock()
        self.bulk_calls = 0
        self.bulk_entries = 0
        self.send_email_calls = 0
        self.other = Counter()
        self.addresses = Counter()
        self.last_call = None


def start_stub() -> QuietServer:
    server = QuietServer(("127.0.0.1", 0), SesStub)
    server.counts = SesCounts()
    return serve(server)


# -- the events -----------------------------------------------------------------------------


def http_event(sample: str, path: str, body=None, campaign_id=None) -> bytes:
    event = json.loads((EVENTS / sample).read_text())
    now = time.time()
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["requestContext"]["timeEpoch"] = int(now * 1000)
    event["requestContext"]["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    # What the local gateway checks; on AWS the IAM authorizer (its context is in the sample).
    event["headers"]["authorization"] = f"Bearer {ADMIN_TOKEN}"
    if campaign_id is not None:
        event["pathParameters"] = {"campaign_id": campaign_id}
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return json.dumps(event).encode()


def sqs_event(message: dict, queue_arn: str) -> bytes:
    """An SQS message as Lambda's event source hands it over, one record per event."""
    attributes = dict(message.get("Attributes") or {})
    attributes.setdefault("ApproximateReceiveCount", "1")
    attributes.setdefault("SentTimestamp", str(int(time.time() * 1000)))
    attributes.setdefault("SenderId", "AROAEXAMPLE")
    attributes.setdefault("ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000)))
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    return json.dumps({"Records": [record]}).encode()


def kind_of(body: str) -> str:
    try:
        return json.loads(body).get("type", "other")
    except (ValueError, AttributeError):
        return "other"


# -- the function's execution environments --------------------------------------------------


class Environment:
    """One instance of the function, invoked one event at a time; replaced when it dies."""

    def __init__(self, number: int, env: dict):
        self.number, self.env = number, env
        self.instance = None
        self.given = 0
        self.total = 0
        self.started = 0
        self.start()

    def start(self):
        if self.instance is not None:
            self.instance.stop()
        self.instance = Instance(
            f"{BINARY}-bench-{self.number}", [str(BOOTSTRAP)], self.env, [], ROOT, deadline=DEADLINE_S + 60
        )
        self.given = 0
        self.started += 1

    def invoke(self, event: bytes, timeout: float = INVOCATION_TIMEOUT):
        """(answer body, error text, seconds); a dead or hung instance is replaced."""
        invocations = self.instance.invocations
        errors_before = len(invocations.errors)
        started = time.perf_counter()
        invocations.add([event])
        self.given += 1
        self.total += 1
        until = time.monotonic() + min(timeout, max(left(), 0.1))
        while not invocations.wait_answered(self.given, 0.5):
            if self.instance.process.poll() is not None or time.monotonic() > until:
                why = "exited" if self.instance.process.poll() is not None else "timed out"
                log(f"instance {self.number} {why}; starting a new one")
                self.start()
                return None, f"instance {why}", time.perf_counter() - started
        with invocations.lock:
            body = invocations.bodies[-1]
            error = invocations.errors[-1] if len(invocations.errors) > errors_before else ""
        return body, error, time.perf_counter() - started

    def stop(self):
        if self.instance is not None:
            self.instance.stop()


def http_call(environment: Environment, event: bytes) -> tuple:
    body, error, seconds = environment.invoke(event)
    if body is None or error:
        raise RuntimeError(f"invocation failed: {error}")
    answer = json.loads(body)
    payload = answer.get("body") or ""
    try:
        payload = json.loads(payload)
    except ValueError:
        pass
    return answer.get("statusCode"), payload


class EventSource:
    """Lambda's SQS event source mapping for the bench queue: BatchSize 1, CONCURRENCY at most."""

    def __init__(self, queue_url: str, queue_arn: str, environments: list):
        self.queue_url, self.queue_arn = queue_url, queue_arn
        self.environments = environments
        self.work = queue.Queue()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.busy = 0
        self.received = 0
        self.deleted = 0
        self.receive_calls = 0
        self.empty_receives = 0
        self.left_to_reappear = Counter()  # why
        self.durations = defaultdict(list)  # kind -> seconds per invocation
        self.invocations = Counter()
        self.errors = []
        self.threads = [threading.Thread(target=self.poll, daemon=True)]
        self.threads += [threading.Thread(target=self.run, args=(e,), daemon=True) for e in environments]

    def start(self):
        for thread in self.threads:
            thread.start()

    def idle(self) -> bool:
        with self.lock:
            return self.busy == 0 and self.work.empty()

    def poll(self):
        """Receives while fewer than two messages per instance wait here, as the poller keeps
        its functions fed without taking the whole queue (its visibility clock would run)."""
        while not self.stop.is_set():
            if self.work.qsize() >= 2 * len(self.environments):
                time.sleep(0.005)
                continue
            try:
                answer = sqs(
                    "ReceiveMessage",
                    {
                        "QueueUrl": self.queue_url,
                        "MaxNumberOfMessages": 10,
                        "WaitTimeSeconds": 1,
                        "AttributeNames": ["All"],
                        "MessageSystemAttributeNames": ["All"],
                        "MessageAttributeNames": ["All"],
                    },
                    timeout=10,
                )
            except Exception as error:  # noqa: BLE001 - the poller keeps polling
                self.errors.append(f"ReceiveMessage: {error}")
                time.sleep(0.5)
                continue
            messages = answer.get("Messages") or []
            with self.lock:
                self.receive_calls += 1
                self.received += len(messages)
                if not messages:
                    self.empty_receives += 1
            for message in messages:
                self.work.put(message)

    def run(self, environment: Environment):
        while not self.stop.is_set():
            try:
                message = self.work.get(timeout=0.1)
            except queue.Empty:
                continue
            with self.lock:
                self.busy += 1
            try:
                self.handle(environment, message)
            except DeadlinePassed:
                self.stop.set()
            except Exception as error:  # noqa: BLE001 - recorded; the message reappears
                self.errors.append(f"{type(error).__name__}: {error}")
            finally:
                with self.lock:
                    self.busy -= 1

    def handle(self, environment: Environment, message: dict):
        kind = kind_of(message.get("Body", ""))
        body, error, seconds = environment.invoke(sqs_event(message, self.queue_arn))
        with self.lock:
            self.invocations[kind] += 1
            self.durations[kind].append(seconds)
        if body is None or error:
            # A failed invocation: Lambda leaves the whole batch to reappear.
            with self.lock:
                self.left_to_reappear["invocation error"] += 1
                self.errors.append(f"{kind}: {error[:300]}")
            return
        answer = json.loads(body or b"{}")
        failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []}
        if message["MessageId"] in failed:
            with self.lock:
                self.left_to_reappear[f"{kind} in batchItemFailures"] += 1
            return
        sqs("DeleteMessage", {"QueueUrl": self.queue_url, "ReceiptHandle": message["ReceiptHandle"]})
        with self.lock:
            self.deleted += 1


def summary(durations: list) -> dict:
    if not durations:
        return {"count": 0}
    ordered = sorted(durations)
    return {
        "count": len(ordered),
        "total_s": round(sum(ordered), 3),
        "mean_ms": round(1000 * statistics.fmean(ordered), 1),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


# -- the run --------------------------------------------------------------------------------


def main() -> int:
    if not BOOTSTRAP.exists():
        print(f"campaign: {BOOTSTRAP} is missing (cargo lambda build --release builds it)", file=sys.stderr)
        return 2
    stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    table, queue_name = f"bench-campaign-{stamp}", f"bench-campaign-{stamp}"
    result = {
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recipients": RECIPIENTS,
        "concurrency": CONCURRENCY,
        "ses_stub": True,
        "ses_stub_note": "SES is a counting stub on loopback (not the local SES): SendBulkEmail answers "
        "SUCCESS for every entry; calls and entries are counted there.",
        "finished": False,
    }
    stub = start_stub()
    environments, source, queue_url = [], None, None
    traced = {}
    send_started = done = None
    table_made = False
    code = 1
    try:
        create_table(table)
        table_made = True
        queue_url = sqs(
            "CreateQueue",
            {"QueueName": queue_name, "Attributes": {"VisibilityTimeout": str(VISIBILITY_TIMEOUT)}},
        )["QueueUrl"]
        queue_arn = sqs("GetQueueAttributes", {"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]})[
            "Attributes"
        ]["QueueArn"]
        log(f"table {table}, queue {queue_url}, SES stub on port {stub.server_address[1]}")

        log(f"seeding {RECIPIENTS} confirmed subscribers")
        seeded = seed(table, RECIPIENTS)
        result["seconds_seeding"] = round(seeded["seconds"], 2)
        result["seeding_batch_write_calls"] = seeded["batch_write_calls"]
        log(f"seeded in {seeded['seconds']:.1f} s")

        env = function_env(ROOT, BINARY)
        env.update(
            {
                "SHOP_TABLE": table,
                "CAMPAIGN_QUEUE_URL": queue_url,
                "AWS_ENDPOINT_URL_SESV2": f"http://127.0.0.1:{stub.server_address[1]}",
            }
        )
        if TRACE:
            for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SESV2"):
                upstream = traced[variable] = Upstreams()
                env[variable] = upstream.wrap({variable: env.get(variable) or os.environ[variable]})[variable]
        environments = [Environment(number, env) for number in range(CONCURRENCY)]
        admin = environments[0]

        subject = f"Bench campaign {stamp}"
        status, created = http_call(
            admin,
            http_event(
                "create-campaign.json",
                "/admin/campaigns",
                body={
                    "name": subject,
                    "subject": subject,
                    "html": "<h1>Winter sale</h1><p>Hello {{email}}.</p>",
                    "text": "Winter sale\n\nHello {{email}}.",
                    "audience": "subscribers",
                },
            ),
        )
        if status != 201:
            raise RuntimeError(f"creating the campaign answered {status}: {created}")
        campaign_id = created["campaign_id"]
        result["campaign_id"] = campaign_id

        source = EventSource(queue_url, queue_arn, environments)
        send_started = time.perf_counter()
        status, sending = http_call(
            admin,
            http_event("send-campaign.json", f"/admin/campaigns/{campaign_id}/send", campaign_id=campaign_id),
        )
        if status != 202:
            raise RuntimeError(f"sending the campaign answered {status}: {sending}")
        log(f"campaign {campaign_id} sending")
        source.start()

        sent_at, last_report, progress = None, 0.0, {}
        while True:
            left()
            progress = campaign_item(table, campaign_id)
            if progress["status"] == "sent" and sent_at is None:
                sent_at = time.perf_counter()
            if progress["status"] == "sent" and source.idle():
                depth = queue_depth(queue_url)
                if not any(depth.values()) and source.idle():
                    break
            if time.monotonic() - last_report >= 15:
                last_report = time.monotonic()
                elapsed = time.perf_counter() - send_started
                log(
                    f"{progress['sent']}/{RECIPIENTS} sent, {progress['recipients']} found "
                    f"(page {progress['next_page']}), {stub.counts.bulk_calls} SES calls, "
                    f"{sum(source.invocations.values())} invocations, {source.received - source.deleted} unfinished, "
                    f"{progress['sent'] / elapsed:.0f} recipients/s"
                )
            time.sleep(0.5)
        done = time.perf_counter()
        source.stop.set()
        result["seconds_send_to_done"] = round(done - send_started, 2)
        result["seconds_send_to_sent_status"] = round(sent_at - send_started, 2)
        if stub.counts.last_call is not None:
            result["seconds_send_to_last_ses_call"] = round(stub.counts.last_call - send_started, 2)

        status, shown = http_call(
            admin, http_event("get-campaign.json", f"/admin/campaigns/{campaign_id}", campaign_id=campaign_id)
        )
        result["campaign"] = shown
        result["finished"] = True
        code = 0
    except DeadlinePassed as error:
        log(str(error))
        result["error"] = str(error)
        code = 3
    except Exception as error:  # noqa: BLE001 - written down, then the run fails
        log(f"failed: {type(error).__name__}: {error}")
        result["error"] = f"{type(error).__name__}: {error}"
        code = 1
    finally:
        if source is not None:
            source.stop.set()
            for thread in source.threads:
                thread.join(timeout=5)
        if "campaign" not in result and "campaign_id" in result and table_made:
            try:
                result["campaign"] = campaign_item(table, result["campaign_id"])
                result["campaign_read_from"] = "the table (the run did not finish)"
            except Exception as error:  # noqa: BLE001
                result["campaign"] = {"error": str(error)}
        counts = stub.counts
        with counts.lock:
            distinct = len(counts.addresses)
            duplicates = sum(1 for n in counts.addresses.values() if n > 1)
            expected = all(email_of(i) in counts.addresses for i in range(RECIPIENTS)) if distinct == RECIPIENTS else False
            result.update(
                {
                    "ses_calls": counts.bulk_calls,
                    "ses_recipients": counts.bulk_entries,
                    "ses_distinct_recipients": distinct,
                    "ses_recipients_mailed_more_than_once": duplicates,
                    "ses_send_email_calls": counts.send_email_calls,
                    "other_ses_calls": sum(counts.other.values()),
                }
            )
            if counts.other:
                result["other_ses_requests"] = dict(counts.other)
        if source is not None:
            with source.lock:
                http_invocations = sum(e.total for e in environments) - sum(source.invocations.values())
                result["lambda_invocations"] = sum(source.invocations.values()) + http_invocations
                result["invocations"] = {"http": http_invocations, **dict(source.invocations)}
                result["invocation_seconds"] = {kind: summary(d) for kind, d in source.durations.items()}
                result["sqs"] = {
                    "received": source.received,
                    "deleted": source.deleted,
                    "receive_calls": source.receive_calls,
                    "empty_receives": source.empty_receives,
                    "left_to_reappear": dict(source.left_to_reappear),
                }
                result["instances_started"] = sum(e.started for e in environments)
                if source.errors:
                    result["errors"] = source.errors[:20]
        campaign = result.get("campaign") or {}
        checks = {
            "sent_equals_recipients": campaign.get("sent") == RECIPIENTS and campaign.get("recipients") == RECIPIENTS,
            "ses_calls_equal_ceil_n_over_50": result["ses_calls"] == math.ceil(RECIPIENTS / BATCH_SIZE),
            "campaign_ses_calls_equal_stub": campaign.get("ses_calls") == result["ses_calls"],
            "ses_recipients_equal_n": result["ses_recipients"] == RECIPIENTS,
            "each_address_once": expected and duplicates == 0 and result["ses_recipients"] == RECIPIENTS,
            "no_other_ses_calls": result["other_ses_calls"] == 0 and result["ses_send_email_calls"] == 0,
        }
        result["checks"] = checks
        result["seconds_wall"] = round(time.monotonic() - STARTED, 2)
        if code == 0 and not all(checks.values()):
            code = 4
        if traced and send_started is not None:
            end = done or time.perf_counter()
            result["trace"] = {"window_s": round(end - send_started, 2)}
            for variable, upstream in traced.items():
                with upstream.lock:
                    spans = [(a, b) for a, b in upstream.spans if send_started <= a < end]
                result["trace"][variable] = {
                    "requests": len(spans),
                    "request_seconds": round(sum(b - a for a, b in spans), 2),
                    "busy_seconds": round(upstream.waited(send_started, end), 2),
                    "mean_ms": round(1000 * sum(b - a for a, b in spans) / len(spans), 2) if spans else None,
                }
        for environment in environments:
            environment.stop()
        for upstream in traced.values():
            upstream.close()
        stub.shutdown()
        stub.server_close()
        try:
            if queue_url:
                sqs("DeleteQueue", {"QueueUrl": queue_url})
            if table_made:
                dynamodb("DeleteTable", {"TableName": table})
        except Exception as error:  # noqa: BLE001
            log(f"cleaning up: {error}")
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    campaign = result.get("campaign") or {}
    print(
        f"campaign: {RECIPIENTS} recipients, concurrency {CONCURRENCY}: "
        f"{'finished' if result['finished'] else 'NOT finished'} in {result.get('seconds_send_to_done', '-')} s "
        f"from send (seeding {result.get('seconds_seeding', '-')} s); sent {campaign.get('sent')}, "
        f"{result['ses_calls']} SES calls (stub) for {result['ses_recipients']} recipients, "
        f"{result.get('lambda_invocations', 0)} invocations; checks "
        f"{'ok' if all(result['checks'].values()) else [k for k, v in result['checks'].items() if not v]}"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
