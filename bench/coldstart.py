#!/usr/bin/env python3
"""Cold start, size and peak memory of every function's release binary, beside a floor and a peer.

Runs inside a local stack (`make bench` starts one), against the Lambda Runtime API as a small
server on loopback: each binary is started as Lambda starts it (`AWS_LAMBDA_RUNTIME_API` and the
function's variables from template.yaml), its first `GET /2018-06-01/runtime/invocation/next`
marks its init done, and the server answers with a sample event from events/ and records the
response. Process start to init done, and to the first response, are timed; the binaries take
turns, COLD_STARTS rounds. Then one more instance of each handles LOAD_INVOCATIONS invocations in
a row and its peak resident memory (VmHWM) is read from /proc.

Beside the functions, in the same run: the floor (bench-floor, hello-world `lambda_http` built with
the same release profile) and the peer (bench/peer/browse_peer.py: the browse listing in Python with
boto3 under awslambdaric). Also the size of each stripped binary and of its deployment zip.

Writes bench/coldstart.json. Standard library only (the peer needs awslambdaric in the venv).
"""

import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench"
LAMBDA = ROOT / "target" / "lambda"
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "9"))
LOAD_INVOCATIONS = int(os.environ.get("BENCH_LOAD_INVOCATIONS", "200"))
DEADLINE = 20.0

# The sample event each function is started with (its most common request).
EVENTS = {
    "admin": "list-orders.json",
    "browse": "list-products.json",
    "cart": "create-cart.json",
    "checkout": "checkout.json",
    "email-campaign": "sign-up.json",
    "email-sender": "order-confirmation.json",
    "fulfillment-worker": "order-paid.json",
    "orders": "get-order.json",
    "payment-webhook": "payment-intent-succeeded.json",
    "reservation-expiry": "expire-reservation.json",
}
# BENCH_ONLY=browse,cart measures just those functions (with the floor and the peer).
ONLY = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name]
if ONLY:
    EVENTS = {name: event for name, event in EVENTS.items() if name in ONLY}
FLOOR = "bench-floor"
PEER = "python-boto3-peer"


class Invocations:
    """What the Runtime API hands out and what comes back, for one running instance."""

    def __init__(self, event: bytes, count: int):
        self.lock = threading.Condition()
        self.pending = [(str(uuid.uuid4()), event) for _ in range(count)]
        self.first_next = None
        self.first_response = None
        self.answered = 0
        self.errors = []
        self.first_body = b""

    def next(self):
        with self.lock:
            if self.first_next is None:
                self.first_next = time.perf_counter()
            while not self.pending:
                # Nothing more for this instance: it is stopped while it waits here.
                if not self.lock.wait(timeout=DEADLINE):
                    return None
            return self.pending.pop(0)

    def respond(self, body: bytes = b"", error: str = ""):
        with self.lock:
            if self.first_response is None:
                self.first_response = time.perf_counter()
                self.first_body = body
            self.answered += 1
            if error:
                self.errors.append(error)
            self.lock.notify_all()

    def wait_answered(self, count: int) -> bool:
        deadline = time.monotonic() + DEADLINE + 0.2 * count
        with self.lock:
            while self.answered < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(timeout=left)
            return True


class RuntimeApi(BaseHTTPRequestHandler):
    """`/2018-06-01/runtime/...` as Lambda serves it, for the instance running now."""

    invocations = None  # set per run
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            return self.answer(404, b"{}")
        handed = self.invocations.next()
        if handed is None:
            return self.answer(410, b"{}")
        request_id, event = handed
        deadline = int((time.time() + 30) * 1000)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
        self.send_header("Content-Length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/response"):
            self.invocations.respond(body)
        elif self.path.endswith("/error"):
            self.invocations.respond(body, body.decode(errors="replace")[:300])
        self.answer(202, b"{}")

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    """Instances are killed while they wait for their next invocation: that is no error."""

    def handle_error(self, request, client_address):
        pass


def function_env(binary: str) -> dict:
    """The template's variables of `binary`, resolved to this stack (shop-local env)."""
    output = subprocess.run(
        [str(ROOT / "target" / "debug" / "shop-local"), "env", binary],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout)


def answer_of(body: bytes) -> str:
    """What the first invocation answered: the HTTP status and problem code, or the SQS batch's
    failures."""
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


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Candidate:
    """One thing to start cold: a shop function, the floor or the peer."""

    def __init__(self, name: str, argv: list, env: dict, event: bytes, cwd: Path = ROOT):
        self.name, self.argv, self.env, self.event, self.cwd = name, argv, env, event, cwd
        self.init_ms, self.first_response_ms, self.errors = [], [], []
        self.peak_rss_kib = None
        self.answers = set()

    def start(self, server_port: int, invocations: Invocations):
        RuntimeApi.invocations = invocations
        env = dict(os.environ)
        env.update(self.env)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server_port}",
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
                "AWS_LAMBDA_LOG_FORMAT": "JSON",
                "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
                "AWS_DEFAULT_REGION": env.get("AWS_REGION", "us-east-1"),
                "LAMBDA_TASK_ROOT": str(self.cwd),
            }
        )
        started = time.perf_counter()
        # BENCH_LOG=<dir> keeps each instance's output (its JSON logs) there.
        log = subprocess.DEVNULL
        if os.environ.get("BENCH_LOG"):
            log = open(Path(os.environ["BENCH_LOG"]) / f"{self.name}.log", "ab")
        process = subprocess.Popen(self.argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        return started, process

    def cold_start(self, server_port: int):
        invocations = Invocations(self.event, 1)
        started, process = self.start(server_port, invocations)
        try:
            answered = invocations.wait_answered(1)
        finally:
            process.kill()
            process.wait()
        if not answered or invocations.first_next is None:
            self.errors.append("no answer within the deadline")
            return
        self.init_ms.append((invocations.first_next - started) * 1000)
        self.first_response_ms.append((invocations.first_response - started) * 1000)
        self.errors.extend(invocations.errors)
        self.answers.add(answer_of(invocations.first_body))

    def under_load(self, server_port: int):
        invocations = Invocations(self.event, LOAD_INVOCATIONS)
        _, process = self.start(server_port, invocations)
        try:
            if invocations.wait_answered(LOAD_INVOCATIONS):
                self.peak_rss_kib = peak_rss_kib(process.pid)
        finally:
            process.kill()
            process.wait()

    def summary(self) -> dict:
        median = lambda xs: round(statistics.median(xs), 1) if xs else None
        return {
            "cold_starts": len(self.first_response_ms),
            "init_ms_median": median(self.init_ms),
            "first_response_ms_median": median(self.first_response_ms),
            "first_response_ms_min": round(min(self.first_response_ms), 1) if self.first_response_ms else None,
            "first_response_ms_max": round(max(self.first_response_ms), 1) if self.first_response_ms else None,
            "peak_rss_mib": round(self.peak_rss_kib / 1024, 1) if self.peak_rss_kib else None,
            "load_invocations": LOAD_INVOCATIONS,
            "answered": sorted(self.answers),
            "errors": sorted(set(self.errors))[:3],
        }


def sizes(binary: Path) -> dict:
    data = binary.read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zipped.writestr(info, data)
    return {"binary_mib": round(len(data) / 2**20, 2), "zip_mib": round(len(archive.getvalue()) / 2**20, 2)}


def main() -> int:
    missing = [name for name in list(EVENTS) + [FLOOR] if not (LAMBDA / name / "bootstrap").exists()]
    if missing:
        print(f"coldstart: no release build of {', '.join(missing)}; run `make release bench-floor` first", file=sys.stderr)
        return 1
    server = QuietServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    http_event = (ROOT / "events" / "browse" / "list-products.json").read_bytes()
    candidates = [Candidate(FLOOR, [str(LAMBDA / FLOOR / "bootstrap")], {}, http_event)]
    for name, event in EVENTS.items():
        candidates.append(
            Candidate(
                name,
                [str(LAMBDA / name / "bootstrap")],
                function_env(name),
                (ROOT / "events" / name / event).read_bytes(),
            )
        )
    python = ROOT / ".venv" / "bin" / "python"
    candidates.append(
        Candidate(
            PEER,
            [str(python), "-m", "awslambdaric", "browse_peer.handler"],
            function_env("browse"),
            http_event,
            cwd=ROOT / "bench" / "peer",
        )
    )

    for round_ in range(COLD_STARTS):
        for candidate in candidates:
            candidate.cold_start(port)
        print(f"coldstart: round {round_ + 1}/{COLD_STARTS}", file=sys.stderr)
    for candidate in candidates:
        candidate.under_load(port)
    server.shutdown()

    floor = next(c for c in candidates if c.name == FLOOR).summary()["first_response_ms_median"]
    results = {}
    for candidate in candidates:
        summary = candidate.summary()
        if floor and summary["first_response_ms_median"]:
            summary["vs_floor"] = round(summary["first_response_ms_median"] / floor, 2)
        if candidate.name != PEER:
            summary.update(sizes(LAMBDA / candidate.name / "bootstrap"))
        results[candidate.name] = summary
    report = {
        "what": "cold start (process start to init done and to first response, median), binary and zip size, peak RSS",
        "cold_starts_each": COLD_STARTS,
        "architecture": os.uname().machine,
        "results": results,
    }
    (OUT / "coldstart.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
