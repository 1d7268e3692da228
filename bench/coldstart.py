#!/usr/bin/env python3
"""Cold start, size and peak memory of every function's release binary, beside a floor and a peer.

Runs inside a local stack (`make bench` starts one), against the Lambda Runtime API as a small
server on loopback (bench/lambda_host.py): each binary is started as Lambda starts it
(`AWS_LAMBDA_RUNTIME_API` and the function's variables from template.yaml), its first
`GET /2018-06-01/runtime/invocation/next` marks its init done, and the server answers with a sample
event from events/ and records the response. Process start to init done, and to the first
response, are timed, and the first response splits into the time spent waiting on the emulators
(each call goes through a timing pass-through) and the rest, the function's own. The binaries take
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
import sys
import zipfile
from pathlib import Path

from lambda_host import Instance, Upstreams, answer_of, function_env, signed_by_stripe

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
    # The back office's sign-in page (its pages past it need a staff session).
    "console": "get-sign-in.json",
    "email-campaign": "sign-up.json",
    "email-sender": "order-confirmation.json",
    "fulfillment-worker": "order-paid.json",
    "orders": "get-order.json",
    "payment-webhook": "payment-intent-succeeded.json",
    "reservation-expiry": "expire-reservation.json",
    # One sweep of the owed work (none, on the bench's stack).
    "sweeper": "scheduled.json",
    # A product page of the demo catalog, rendered (the page asks browse's handler in-process).
    "storefront": "get-product-page.json",
}
# BENCH_ONLY=browse,cart measures just those functions (with the floor and the peer).
ONLY = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name]
if ONLY:
    EVENTS = {name: event for name, event in EVENTS.items() if name in ONLY}
FLOOR = "bench-floor"
PEER = "python-boto3-peer"
# The system's certificate store, for the experiments (see `experiments`).
CERT_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def cpu_and_faults(pid: int) -> tuple:
    """Milliseconds on a CPU (user and kernel, every thread) and minor page faults so far.

    Read right after the first response: the process has only asked for its next event since.
    Where a cold start's wall time goes beyond its instructions: on this machine a page fault
    costs some 3 us, and the kernel's share of a cold start (mapping the binary's pages, zeroing
    the heap's, copying the ones relocations write to) is about half of it."""
    cpu_ns, faults = 0, 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            cpu_ns += int((task / "schedstat").read_text().split()[0])
            # The fields after the command name: minflt is the 10th field of stat, the 8th here.
            faults += int((task / "stat").read_text().rsplit(")", 1)[1].split()[7])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return cpu_ns / 1e6, faults


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Candidate:
    """One thing to start cold: a shop function, the floor, the peer or an experiment."""

    def __init__(self, name: str, argv: list, env: dict, event: bytes, cwd: Path = ROOT, process_name: str = ""):
        self.name, self.argv, self.env, self.event, self.cwd = name, argv, env, event, cwd
        self.process_name = process_name or name
        self.init_ms, self.first_response_ms, self.aws_ms, self.errors = [], [], [], []
        self.cpu_ms, self.page_faults = [], []
        self.peak_rss_kib = None
        self.answers = set()

    def cold_start(self, upstreams: Upstreams):
        instance = Instance(self.process_name, self.argv, upstreams.wrap(self.env), [self.event], self.cwd, DEADLINE)
        with instance:
            answered = instance.invocations.wait_answered(1, DEADLINE)
            if answered:
                cpu_ms, faults = cpu_and_faults(instance.process.pid)
        invocations = instance.invocations
        if not answered or invocations.first_next is None:
            self.errors.append("no answer within the deadline")
            return
        answered_at = invocations.timings[0][1]
        self.init_ms.append((invocations.first_next - instance.started) * 1000)
        self.first_response_ms.append((answered_at - instance.started) * 1000)
        self.aws_ms.append(upstreams.waited(instance.started, answered_at) * 1000)
        self.cpu_ms.append(cpu_ms)
        self.page_faults.append(faults)
        self.errors.extend(invocations.errors)
        self.answers.add(answer_of(invocations.bodies[0]))

    def under_load(self):
        events = [self.event] * LOAD_INVOCATIONS
        with Instance(self.process_name, self.argv, self.env, events, self.cwd, DEADLINE) as instance:
            if instance.invocations.wait_answered(LOAD_INVOCATIONS, DEADLINE + 0.2 * LOAD_INVOCATIONS):
                self.peak_rss_kib = peak_rss_kib(instance.process.pid)

    def summary(self) -> dict:
        median = lambda xs: round(statistics.median(xs), 1) if xs else None
        own = [first - aws for first, aws in zip(self.first_response_ms, self.aws_ms)]
        return {
            "cold_starts": len(self.first_response_ms),
            "init_ms_median": median(self.init_ms),
            "first_response_ms_median": median(self.first_response_ms),
            "first_response_ms_min": round(min(self.first_response_ms), 1) if self.first_response_ms else None,
            "first_response_ms_max": round(max(self.first_response_ms), 1) if self.first_response_ms else None,
            "aws_wait_ms_median": median(self.aws_ms),
            "own_ms_median": median(own),
            "cpu_ms_median": median(self.cpu_ms),
            "page_faults_median": median(self.page_faults),
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


def experiments(http_event: bytes) -> list:
    """browse again, with the SDK reading the system's root certificates.

    The functions trust the five AWS roots as ready-made anchors compiled into them
    (shop_platform::aws::https_client), so a cold start parses no certificate. Where SSL_CERT_FILE
    or SSL_CERT_DIR is set they read the system's store instead, as the SDK's default client
    always does: here a bundle and every file in /etc/ssl/certs. This row shows what that costs."""
    if "browse" not in EVENTS or not CERT_BUNDLE.exists():
        return []
    browse = [str(LAMBDA / "browse" / "bootstrap")]
    env = function_env(ROOT, "browse")
    system = {"SSL_CERT_FILE": str(CERT_BUNDLE), "SSL_CERT_DIR": str(CERT_BUNDLE.parent)}
    return [Candidate("browse, system CA store", browse, env | system, http_event, process_name="browse")]


def main() -> int:
    missing = [name for name in list(EVENTS) + [FLOOR] if not (LAMBDA / name / "bootstrap").exists()]
    if missing:
        print(f"coldstart: no release build of {', '.join(missing)}; run `make release bench-floor` first", file=sys.stderr)
        return 1
    http_event = (ROOT / "events" / "browse" / "list-products.json").read_bytes()
    candidates = [Candidate(FLOOR, [str(LAMBDA / FLOOR / "bootstrap")], {}, http_event)]
    for name, event in EVENTS.items():
        sample = (ROOT / "events" / name / event).read_bytes()
        if name == "payment-webhook":
            # The cold starts take a few minutes; the signature stays within Stripe's 5.
            sample = signed_by_stripe(sample)
        candidates.append(Candidate(name, [str(LAMBDA / name / "bootstrap")], function_env(ROOT, name), sample))
    python = ROOT / ".venv" / "bin" / "python"
    candidates.append(
        Candidate(
            PEER,
            [str(python), "-m", "awslambdaric", "browse_peer.handler"],
            function_env(ROOT, "browse"),
            http_event,
            cwd=ROOT / "bench" / "peer",
        )
    )
    candidates.extend(experiments(http_event))

    upstreams = Upstreams()
    for round_ in range(COLD_STARTS):
        for candidate in candidates:
            candidate.cold_start(upstreams)
        print(f"coldstart: round {round_ + 1}/{COLD_STARTS}", file=sys.stderr)
    upstreams.close()
    for candidate in candidates:
        candidate.under_load()

    floor = next(c for c in candidates if c.name == FLOOR).summary()["first_response_ms_median"]
    results = {}
    for candidate in candidates:
        summary = candidate.summary()
        if floor and summary["first_response_ms_median"]:
            summary["vs_floor"] = round(summary["first_response_ms_median"] / floor, 2)
            summary["own_vs_floor"] = round(summary["own_ms_median"] / floor, 2)
        if candidate.name != PEER:
            summary.update(sizes(LAMBDA / candidate.process_name / "bootstrap"))
        results[candidate.name] = summary
    report = {
        "what": "cold start (process start to init done and to first response, median; of the first response, "
        "the time waiting on the emulators and the rest), binary and zip size, peak RSS",
        "cold_starts_each": COLD_STARTS,
        "architecture": os.uname().machine,
        "results": results,
    }
    (OUT / "coldstart.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
