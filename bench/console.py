#!/usr/bin/env python3
"""What each page of the merchant console costs: the DynamoDB requests one warm view makes
(counted by the gateway's IAM proxy, as bench/requests.py counts them) and its warm render time
(the median and 95th percentile of 20 views, measured from outside over HTTP).

Runs inside a local stack after a paid order exists: `python3 infra/local/stack.py run --
python3 bench/console.py` (or `make bench`). Signs in as the first owner (SHOP_STAFF_EMAIL /
SHOP_STAFF_PASSWORD). Writes bench/console.json and bench/console.md. Standard library only.
"""

import json
import os
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from requests import call, recorder, recording  # noqa: E402  (bench/requests.py)

CONSOLE = os.environ["SHOP_CONSOLE_URL"].rstrip("/")
API = os.environ["SHOP_API_URL"].rstrip("/")
ADMIN = {"Authorization": f"Bearer {os.environ['SHOP_ADMIN_TOKEN']}"}
OUT = Path(__file__).resolve().parent
VIEWS = 20


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


JAR = CookieJar()
BROWSER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(JAR), NoRedirect)


def get(path):
    try:
        with BROWSER.open(f"{CONSOLE}{path}", timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sign_in():
    status, page = get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"email": os.environ["SHOP_STAFF_EMAIL"], "password": os.environ["SHOP_STAFF_PASSWORD"], "csrf": csrf}
    ).encode()
    try:
        BROWSER.open(urllib.request.Request(f"{CONSOLE}/sign-in", data=form, method="POST"), timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 303:
            raise SystemExit(f"sign-in answered {error.code}")


def any_id(path, field):
    status, page = call("GET", f"{API}{path}", headers=ADMIN)
    items = page.get("items", []) if status == 200 else []
    return items[0][field] if items else None


def main():
    sign_in()
    order_id = any_id("/admin/orders?status=fulfilling&limit=1", "order_id")
    product_id = any_id("/admin/products?limit=1", "id")
    pages = ["/today", "/orders", "/returns", "/support", "/catalog", "/catalog/discounts", "/marketing",
             "/settings", "/audit"]
    if order_id:
        pages.insert(2, f"/orders/{order_id}")
    if product_id:
        pages.insert(6, f"/catalog/{product_id}")
    rows = []
    for path in pages:
        status, _ = get(path)  # warm: the instance, its keys and its clients
        if status != 200:
            print(f"{path}: {status}, skipped", flush=True)
            continue
        recorder("dynamodb", "reset-recording")
        recorder("dynamodb", "start-recording")
        get(path)
        recorder("dynamodb", "stop-recording")
        requests = Counter(action for action, _ in recording("dynamodb"))
        times = []
        for _ in range(VIEWS):
            started = time.perf_counter()
            get(path)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        row = {
            "page": re.sub(r"/(orders|catalog)/[^/]+$", r"/\1/{id}", path) if path.count("/") == 2 and "discounts" not in path else path,
            "dynamodb": dict(sorted(requests.items())),
            "dynamodb_requests": sum(requests.values()),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        }
        print(row, flush=True)
        rows.append(row)
    (OUT / "console.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| Page | DynamoDB requests | Warm p50 (ms) | Warm p95 (ms) |", "|---|---|---|---|"]
    for row in rows:
        detail = ", ".join(f"{n} {a}" for a, n in row["dynamodb"].items()) or "none"
        lines.append(f"| `{row['page']}` | {row['dynamodb_requests']} ({detail}) | {row['p50_ms']} | {row['p95_ms']} |")
    (OUT / "console.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
