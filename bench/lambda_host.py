"""Runs a Lambda function's binary on this machine as Lambda runs it, for the benchmarks.

- `Instance`: one execution environment. Its own Lambda Runtime API (a small server on a loopback
  port of its own, so that a stopped instance's last `GET .../invocation/next` can never take an
  event meant for the next one) hands out the events it is given and records each response and
  how long it took.
- `Upstreams`: a timing pass-through in front of each service the function calls (DynamoDB, SQS,
  SES, Stripe). Every request it forwards is recorded with its start and end, so an invocation's
  time splits into waiting on those services and the handler's own work.

Standard library only.
"""

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The variables that point a function at the services it calls.
UPSTREAM_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SESV2", "STRIPE_API_BASE")


class Invocations:
    """What the Runtime API hands out and what comes back, for one instance."""

    def __init__(self, events: list, deadline: float):
        self.lock = threading.Condition()
        self.pending = [(str(uuid.uuid4()), event) for event in events]
        self.deadline = deadline
        self.first_next = None
        self.handed = {}
        self.timings = []  # (handed, answered) per invocation, in order
        self.errors = []
        self.bodies = []

    def add(self, events: list):
        with self.lock:
            self.pending.extend((str(uuid.uuid4()), event) for event in events)
            self.lock.notify_all()

    def next(self):
        with self.lock:
            if self.first_next is None:
                self.first_next = time.perf_counter()
            while not self.pending:
                # Nothing more for this instance: it is stopped while it waits here.
                if not self.lock.wait(timeout=self.deadline):
                    return None
            request_id, event = self.pending.pop(0)
            self.handed[request_id] = time.perf_counter()
            return request_id, event

    def respond(self, request_id: str, body: bytes, error: str = ""):
        now = time.perf_counter()
        with self.lock:
            self.timings.append((self.handed.pop(request_id, now), now))
            self.bodies.append(body)
            if error:
                self.errors.append(error)
            self.lock.notify_all()

    def wait_answered(self, count: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        with self.lock:
            while len(self.timings) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(timeout=left)
            return True


class LoopbackHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 keep-alive handler for the benchmark's servers on loopback."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the body back
    # until the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


class RuntimeApi(LoopbackHandler):
    """`/2018-06-01/runtime/...` as Lambda serves it, for the instance of this server."""

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            return self.answer(404, b"{}")
        handed = self.server.invocations.next()
        if handed is None:
            return self.answer(410, b"{}")
        request_id, event = handed
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 30) * 1000)))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
        self.send_header("Content-Length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-1] in ("response", "error"):
            error = body.decode(errors="replace")[:300] if parts[-1] == "error" else ""
            self.server.invocations.respond(parts[-2], body, error)
        self.answer(202, b"{}")

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    """Instances are killed while they wait for their next invocation: that is no error."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def serve(server: ThreadingHTTPServer) -> ThreadingHTTPServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def lambda_variables(name: str, runtime_api: str, cwd: Path) -> dict:
    """What Lambda sets in every execution environment."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": str(cwd),
    }


class Instance:
    """One execution environment: a process and the Runtime API that serves it events."""

    def __init__(self, name: str, argv: list, env: dict, events: list, cwd: Path, deadline: float = 20.0):
        self.invocations = Invocations(events, deadline)
        self.server = serve(QuietServer(("127.0.0.1", 0), RuntimeApi))
        self.server.invocations = self.invocations
        # Lambda sets no SSL_CERT_FILE or SSL_CERT_DIR (a developer's shell may): they would
        # switch the SDK to reading the system's certificate store.
        full_env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        full_env.update(env)
        full_env.update(lambda_variables(name, f"127.0.0.1:{self.server.server_address[1]}", cwd))
        # BENCH_LOG=<dir> keeps each instance's output (its JSON logs) there.
        log = subprocess.DEVNULL
        if os.environ.get("BENCH_LOG"):
            log = open(Path(os.environ["BENCH_LOG"]) / f"{name}.log", "ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Upstream(LoopbackHandler):
    """Forwards one request to the service behind it and records how long the function waited.

    The wait runs from the request's arrival (for a connection's first request, from the
    connection's accept) until the answer is written back: the pass-through's own work (a thread
    per connection, parsing, copying; about 1.5 ms a request in Python) is time the function
    spends waiting, as it would on the service itself, and not the function's own."""

    def setup(self):
        super().setup()
        self.accepted = self.server.accepted.pop(self.request, None)

    def parse_request(self):
        self.arrived = self.accepted if self.accepted is not None else time.perf_counter()
        self.accepted = None
        return super().parse_request()

    def forward(self):
        start = self.arrived
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = self.server.target
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status, reply_headers = response.status, response.getheaders()
        finally:
            connection.close()
        self.send_response(status)
        for key, value in reply_headers:
            if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.record(start, time.perf_counter())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward


class UpstreamServer(QuietServer):
    def __init__(self, target: str, spans: list, lock: threading.Lock):
        super().__init__(("127.0.0.1", 0), Upstream)
        self.target = urllib.parse.urlparse(target)
        self.spans, self.lock = spans, lock
        self.accepted = {}

    def get_request(self):
        connection, address = super().get_request()
        self.accepted[connection] = time.perf_counter()
        return connection, address

    def record(self, start: float, end: float):
        with self.lock:
            self.spans.append((start, end))


class Upstreams:
    """Timing pass-throughs in front of every service in `env`; `env` is rewritten to use them."""

    def __init__(self):
        self.spans, self.lock, self.servers = [], threading.Lock(), {}

    def wrap(self, env: dict) -> dict:
        wrapped = dict(env)
        for variable in UPSTREAM_VARIABLES:
            url = env.get(variable) or os.environ.get(variable)
            if not url:
                continue
            if url not in self.servers:
                self.servers[url] = serve(UpstreamServer(url, self.spans, self.lock))
            wrapped[variable] = f"http://127.0.0.1:{self.servers[url].server_address[1]}"
        return wrapped

    def waited(self, start: float, end: float) -> float:
        """Seconds within [start, end] during which at least one request was out."""
        with self.lock:
            spans = sorted((max(s, start), min(e, end)) for s, e in self.spans if e > start and s < end)
        total, reach = 0.0, start
        for s, e in spans:
            if e > reach:
                total += e - max(s, reach)
                reach = e
        return total

    def requests_within(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for s, _ in self.spans if start <= s < end)

    def close(self):
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


def function_env(root: Path, binary: str) -> dict:
    """The template's variables of `binary`, resolved to this stack (shop-local env)."""
    output = subprocess.run(
        [str(root / "target" / "debug" / "shop-local"), "env", binary],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout)


def answer_of(body: bytes) -> str:
    """What an invocation answered: the HTTP status and problem code, or the SQS batch's failures."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return "unreadable"
    if "statusCode" in answer:
        code = ""
        try:
            code = json.loads(answer.get("body") or "{}").get("code", "")
        except (ValueError, AttributeError):
            pass
        return f"{answer['statusCode']} {code}".strip()
    if "batchItemFailures" in answer:
        return f"{len(answer['batchItemFailures'])} failed messages"
    return "answered"


def signed_by_stripe(event: bytes, payload: str = "") -> bytes:
    """The API Gateway event of a Stripe webhook, its body (or `payload`) signed now with the
    stack's webhook secret, as Stripe signs it (a signature older than 5 minutes is refused)."""
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_shop_webhook_secret")
    request = json.loads(event)
    body = payload or request["body"]
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    request["body"] = body
    request["headers"]["stripe-signature"] = f"t={stamp},v1={signature}"
    return json.dumps(request).encode()
