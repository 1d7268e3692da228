#!/usr/bin/env python3
"""Gathers the measurements of one `make bench` run into bench/results.json, bench/results.md
and bench/results.png, with the machine they came from and the date, and the goals each figure
is held to. Runs with the project's venv (matplotlib draws the chart)."""

import datetime
import json
import os
import platform
import urllib.parse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import cost  # noqa: E402

BENCH = Path(__file__).resolve().parent
FLOOR, PEER = "bench-floor", "python-boto3-peer"
GOAL_VS_FLOOR = 1.5
STRETCH_VS_FLOOR = 1.2
GOAL_SIZE_MIB = 5e6 / 2**20  # 5 MB
GOAL_RSS_MIB = 40.0


def machine() -> dict:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def where_it_goes(profile: dict, name: str) -> str:
    """The profile's account of `name`'s cold start: instructions beside the floor's, top crates."""
    results = (profile or {}).get("results", {})
    row, floor = results.get(name), results.get(FLOOR, {}).get("instructions")
    if not row or not floor:
        return ""
    crates = ", ".join(f"{c['crate']} {c['percent']}%" for c in row["crates"][:4])
    return (f" Callgrind counts {row['instructions'] / 1e6:.1f} M instructions to {name}'s first response "
            f"({row['vs_floor']}x the floor's {floor / 1e6:.1f} M); the most go to {crates}.")


def top_crates(row: dict, count: int = 3) -> str:
    """A binary's `count` largest crates by symbol bytes, with their shares."""
    crates = row.get("size", {}).get("crates", [])[:count]
    return ", ".join(f"{c['crate']} {c['percent']}%" for c in crates)


def what_it_is(profile: dict, large: dict) -> str:
    """The profile's account of the large zips: the crates their bytes are in."""
    results = (profile or {}).get("results", {})
    rows = {name: results[name] for name in large if name in results and results[name].get("size")}
    if not rows:
        return ""
    parts = [f"{name}: {top_crates(row)}" for name, row in sorted(rows.items(), key=lambda kv: large[kv[0]])]
    return " By nm, the largest crates in each one's symbol bytes: " + "; ".join(parts) + "."


def misses(cold: dict, profile: dict, requests: dict, sale: dict, campaigns: list) -> list:
    found = []
    floor = cold.get(FLOOR, {}).get("first_response_ms_median")
    functions = {name: row for name, row in cold.items() if name not in (FLOOR, PEER) and "," not in name}
    slow = {name: row["own_vs_floor"] for name, row in functions.items()
            if row.get("own_vs_floor") and row["own_vs_floor"] > GOAL_VS_FLOOR}
    if slow:
        browse = functions.get("browse", {}).get("own_ms_median")
        system = cold.get("browse, system CA store", {}).get("own_ms_median")
        explained = ""
        if browse and system and system > browse:
            explained = (
                f" Reading the system's certificate store, as the SDK's default client does, would cost "
                f"browse {system - browse:.1f} ms more ({system} ms)."
            )
        worst, base = functions[max(slow, key=slow.get)], cold.get(FLOOR, {})
        if worst.get("cpu_ms_median") and base.get("cpu_ms_median"):
            explained += (
                f" On a CPU, {max(slow, key=slow.get)} takes {worst['cpu_ms_median']} ms with "
                f"{int(worst['page_faults_median'])} page faults to its first response, the floor "
                f"{base['cpu_ms_median']} ms with {int(base['page_faults_median'])}."
            )
        found.append(
            f"Cold start: {len(slow)} of {len(functions)} functions take {min(slow.values())}–{max(slow.values())}x "
            f"the floor's first response ({floor} ms) in their own time, goal {GOAL_VS_FLOOR}x "
            f"(stretch {STRETCH_VS_FLOOR}x): "
            + ", ".join(f"{name} {ratio}x" for name, ratio in sorted(slow.items(), key=lambda kv: kv[1])) + "."
            + explained
            + where_it_goes(profile, max(slow, key=slow.get))
        )
    large = {name: row["zip_mib"] for name, row in functions.items()
             if row.get("zip_mib") and row["zip_mib"] > GOAL_SIZE_MIB}
    if large:
        found.append(
            f"Size: {len(large)} zips are over 5 MB ({GOAL_SIZE_MIB:.2f} MiB): "
            + ", ".join(f"{name} {mib} MiB" for name, mib in sorted(large.items(), key=lambda kv: kv[1])) + "."
            + what_it_is(profile, large)
        )
    for name, row in functions.items():
        if row.get("peak_rss_mib") and row["peak_rss_mib"] > GOAL_RSS_MIB:
            found.append(f"{name}: peak RSS {row['peak_rss_mib']} MiB (goal {GOAL_RSS_MIB} MiB)")
        for error in row.get("errors", []):
            found.append(f"{name}: {error[:160]}")
    for row in requests.get("rows", []):
        if row["operation"].startswith("cart line") and sum(row["dynamodb"].values()) > 3:
            found.append(
                f"Cart line: {sum(row['dynamodb'].values())} DynamoDB requests for a new line (goal 3: "
                "the cart with the SKU's owner, then its variants and discount, then the write): "
                + ", ".join(f"{k} {v}" for k, v in row["dynamodb"].items())
            )
    if sale and (sale.get("oversold") or sale.get("5xx")):
        found.append(f"Flash sale: oversold {sale.get('oversold')}, 5xx {sale.get('5xx')} (goal 0 and 0)")
    for run in campaigns:
        if not run.get("finished", True) or run.get("ses_recipients_mailed_more_than_once"):
            found.append(f"Campaign fan-out to {run.get('recipients')}: did not finish, or mailed someone twice")
    return found


def chart(cold: dict, path: Path):
    names = [n for n in cold if cold[n].get("own_ms_median")]
    names.sort(key=lambda n: cold[n]["own_ms_median"])
    own = [cold[n]["own_ms_median"] for n in names]
    wait = [cold[n].get("aws_wait_ms_median") or 0 for n in names]
    colors = ["#888888" if n == FLOOR else "#d9822b" if n == PEER else "#2b6cb0" for n in names]
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(names) + 1.4))
    axis.barh(names, own, color=colors, label="own")
    axis.barh(names, wait, left=own, color="#cbd5e0", label="waiting on the emulators")
    axis.set_xscale("log")
    axis.set_xlim(left=1)
    floor = cold.get(FLOOR, {}).get("first_response_ms_median")
    if floor:
        axis.axvline(floor * GOAL_VS_FLOOR, color="#c53030", linestyle="--", linewidth=1)
        axis.text(floor * GOAL_VS_FLOOR, len(names) - 0.5, f" {GOAL_VS_FLOOR}x floor", color="#c53030", fontsize=8)
    for y, (value, waited) in enumerate(zip(own, wait)):
        axis.text(value + waited, y, f" {value:.1f} ms own", va="center", fontsize=8)
    axis.set_xlabel("cold start: process start to first response, median (ms, log scale)")
    axis.set_title("Cold start per function, beside the floor (grey) and a Python peer (orange)")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def load(name: str) -> dict:
    path = BENCH / name
    return json.loads(path.read_text()) if path.exists() else {}


def cold_start_lines(cold: dict) -> list:
    lines = [
        "## Cold start, size, memory",
        "",
        f"Each binary started {cold['cold_starts_each']} times against a local Lambda Runtime API, "
        "taking turns; median times from process start. The floor is a hello-world `lambda_http` "
        "built with the same profile; the peer is the browse listing in Python with boto3 under "
        "awslambdaric. Every call to the emulators goes through a timing pass-through: *AWS wait* is "
        "the part of the first response spent waiting on them (DynamoDB Local on loopback, not "
        "AWS's figure; from a request's arrival at the pass-through, or its connection's accept, to "
        "the answer written back), *own* is the rest, compared with the floor. *On CPU* is the "
        "process's CPU time (user and kernel, all threads) to its first response, and *page faults* its "
        "minor faults by then: the kernel's work on those pages is about half of a cold start here. "
        f"Peak RSS after {next(iter(cold['results'].values()))['load_invocations']} invocations in a row. "
        "Sizes: the stripped x86_64 binary and its deployment zip (arm64 cannot be built here: "
        "the aarch64 standard library is not installed and CI may not download it).",
        "",
        "![cold start](results.png)",
        "",
        "| function | init done (ms) | first response (ms) | AWS wait (ms) | own (ms) | own x floor "
        "| on CPU (ms) | page faults | binary (MiB) | zip (MiB) | peak RSS (MiB) | sample event answered |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(cold["results"].items(), key=lambda kv: kv[1].get("own_ms_median") or 0):
        faults = row.get("page_faults_median")
        lines.append(
            f"| {name} | {row.get('init_ms_median')} | {row.get('first_response_ms_median')} | "
            f"{row.get('aws_wait_ms_median')} | {row.get('own_ms_median')} | {row.get('own_vs_floor', '')} | "
            f"{row.get('cpu_ms_median') or ''} | {'' if faults is None else int(faults)} | "
            f"{row.get('binary_mib', '')} | {row.get('zip_mib', '')} | "
            f"{row.get('peak_rss_mib') or ''} | {', '.join(row.get('answered', []))} |"
        )
    return lines


def profile_lines(profile: dict) -> list:
    if not profile:
        return []
    results = profile["results"]
    lines = [
        "## Where a cold start's instructions go",
        "",
        "Each binary (with its symbols) started once under callgrind "
        f"({profile['valgrind']}) with the same event, counted from process start to the first "
        "response: instruction counts stay put where this machine's wall times move by a third. Self cost "
        "grouped by crate (the dynamic loader and libc by file; C without a crate is aws-lc's).",
        "",
        "| function | instructions (M) | x floor | where they go (self cost, top 5 crates) |",
        "|---|---|---|---|",
    ]
    for name, row in sorted(results.items(), key=lambda kv: kv[1]["instructions"]):
        crates = ", ".join(f"{c['crate']} {c['percent']}%" for c in row["crates"][:5])
        lines.append(f"| {name} | {row['instructions'] / 1e6:.1f} | {row['vs_floor']} | {crates} |")
    heaviest = max((name for name in results if name != FLOOR), key=lambda n: results[n]["instructions"], default=None)
    if heaviest:
        lines += [
            "",
            f"The functions with the most self cost in {heaviest}:",
            "",
            "| function | instructions (M) | share |",
            "|---|---|---|",
        ]
        for row in results[heaviest]["functions"][:10]:
            symbol = row["function"].replace("|", "\\|")
            if len(symbol) > 110:
                symbol = symbol[:107] + "..."
            lines.append(f"| `{symbol}` | {row['instructions'] / 1e6:.2f} | {row['percent']}% |")
    return lines


def size_lines(profile: dict) -> list:
    results = {name: row for name, row in (profile or {}).get("results", {}).items() if row.get("size")}
    if not results:
        return []
    lines = [
        "## What the binaries are made of",
        "",
        "The bytes of each binary's symbols (code and data, `nm --print-size` on the copy with symbols), "
        "by crate; a generic function counts where its type lives.",
        "",
        "| function | symbols (MiB) | top 5 crates |",
        "|---|---|---|",
    ]
    for name, row in sorted(results.items(), key=lambda kv: kv[1]["size"]["symbol_kib"]):
        crates = ", ".join(f"{c['crate']} {c['percent']}%" for c in row["size"]["crates"][:5])
        lines.append(f"| {name} | {row['size']['symbol_kib'] / 1024:.2f} | {crates} |")
    return lines


def warm_lines(warm: dict) -> list:
    if not warm:
        return []
    lines = [
        "## Warm latency per operation",
        "",
        f"One warm instance of the release binary per operation, {warm['reads']} invocations in a row "
        f"({warm['writes']} for checkout and webhook, each with its own cart or order). *Own* is the "
        "handler's work without its waits on the emulators (through the timing pass-through, whose "
        "own Python work counts as waiting); the waits are the emulators', not AWS's.",
        "",
        "| operation | function | p50 (ms) | p99 (ms) | AWS wait p50 (ms) | own p50 (ms) | own p99 (ms) | calls | answers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in warm["rows"]:
        answers = ", ".join(f"{k} x{v}" for k, v in row["answers"].items())
        lines.append(
            f"| {row['operation']} | {row['function']} | {row['p50_ms']} | {row['p99_ms']} | {row['aws_wait_p50_ms']} "
            f"| {row['own_p50_ms']} | {row['own_p99_ms']} | {row['calls_per_invocation']:g} | {answers} |"
        )
    return lines


LIGHTHOUSE_CATEGORIES = (("performance", "performance"), ("accessibility", "accessibility"),
                         ("best-practices", "best practices"), ("seo", "SEO"))


def lighthouse_lines(lighthouse: dict) -> list:
    if not lighthouse:
        return []
    settings = lighthouse.get("settings") or {}
    throttling = settings.get("throttling") or {}
    goal = lighthouse["goal"]
    lines = [
        "## Lighthouse",
        "",
        f"Lighthouse {lighthouse['lighthouse']} (bench/lighthouse/run.mjs) in Debian's chromium ({lighthouse.get('chromium')}), "
        f"headless, on the storefront as the local stack serves it (the gateway's debug build), with "
        f"Lighthouse's default settings: {settings.get('form_factor')} with {settings.get('throttling_method')}d "
        f"throttling ({throttling.get('rttMs')} ms round trips, {throttling.get('throughputKbps')} Kbps, "
        f"CPU {throttling.get('cpuSlowdownMultiplier')}x slower), computed from the load observed on loopback. "
        "The cart holds one line, added through the product page's own form in the same browser. "
        f"Goal: {goal} or more in every category.",
        "",
        "| page | " + " | ".join(title for _, title in LIGHTHOUSE_CATEGORIES)
        + " | LCP (ms) | TBT (ms) | CLS | server response (ms) |",
        "|---|" + "---|" * (len(LIGHTHOUSE_CATEGORIES) + 4),
    ]
    for page in lighthouse["pages"]:
        metrics = page.get("metrics", {})
        scores = [f"{page['scores'][key]}" + ("" if page["scores"][key] >= goal else " ✗")
                  for key, _ in LIGHTHOUSE_CATEGORIES]
        lines.append(
            f"| {page['page']} (`{urllib.parse.urlparse(page['url']).path}`) | " + " | ".join(scores)
            + f" | {metrics.get('largest-contentful-paint', 0):.0f} | {metrics.get('total-blocking-time', 0):.0f} "
            f"| {metrics.get('cumulative-layout-shift', 0):.3f} | {metrics.get('server-response-time', 0):.0f} |"
        )
    failing = [
        f"- {page['page']}, {title} {page['scores'][key]}: "
        + "; ".join(f"{audit['title']}" + (f" ({audit['value']})" if audit.get("value") else "")
                    for audit in page["failing"][key])
        for page in lighthouse["pages"] for key, title in LIGHTHOUSE_CATEGORIES
        if page["scores"][key] < goal
    ]
    if failing:
        lines += ["", "The audits that cost the scores under the goal:", ""] + failing
    return lines


def lighthouse_misses(lighthouse: dict) -> list:
    return [
        f"Lighthouse: {page['page']} {title} {page['scores'][key]} (goal {lighthouse['goal']}): "
        + ", ".join(audit["title"] for audit in page["failing"][key])
        for page in lighthouse.get("pages", []) for key, title in LIGHTHOUSE_CATEGORIES
        if page["scores"][key] < lighthouse["goal"]
    ]


def requests_lines(requests: dict) -> list:
    lines = [
        "## AWS requests per operation",
        "",
        f"Counted by the emulators' request recorders on {requests['measured']}; capacity units from the "
        "requests' bodies (bench/requests.py says how). SES is mails sent. The SQS polling of Lambda's "
        "event sources is left out (on AWS a fixed cost per queue, see the cost).",
        "",
        "| operation | DynamoDB | write / read units | SQS | SES |",
        "|---|---|---|---|---|",
    ]
    for row in requests["rows"]:
        ddb = ", ".join(f"{k} {v}" for k, v in row["dynamodb"].items()) or "-"
        sqs = ", ".join(f"{k} {v}" for k, v in row["sqs"].items()) or "-"
        units = row["dynamodb_capacity"]
        lines.append(
            f"| {row['operation']} | {sum(row['dynamodb'].values())}: {ddb} "
            f"| {units['write_units']:g} / {units['read_units']:g} | {sqs} | {row['ses']} |"
        )
    return lines


def sale_lines(sale: dict) -> list:
    if not sale:
        return []
    ms = sale.get("checkout_ms", {})
    won = sale.get("checkout_ms_by_status", {}).get("201", {})
    return [
        "## Flash sale",
        "",
        f"{sale['shoppers']:,} shoppers, {sale['concurrency']} at a time, each with a cart holding one unit, "
        f"check out against {sale['units']} units, through the local stack (the gateway runs the debug "
        "build; DynamoDB is AWS's DynamoDB Local, every call through the gateway's IAM proxy). Oversold is read from the stock "
        "item and the stored orders, not from the answers.",
        "",
        "| orders | sold out (409) | refused at the cart | oversold | 5xx | units left | checkout p50 (ms) "
        "| p99 (ms) | p50 of the 201s (ms) | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {sale['orders']} | {sale.get('sold_out_409')} | {sale.get('refused_at_cart')} | {sale['oversold']} "
        f"| {sale['5xx']} | {sale.get('units_left')} | {ms.get('p50')} | {ms.get('p99')} | {won.get('p50')} "
        f"| {sale.get('wall_s')} |",
        "",
        "A refused checkout stops at the stock read. A checkout that wins a unit writes the order, the "
        "reservation and the stock in one TransactWriteItems; DynamoDB Local refuses the transactions "
        "that lose the race for the last units, as DynamoDB does.",
    ]


def campaign_lines(campaigns: list) -> list:
    if not campaigns:
        return []
    lines = [
        "## Campaign fan-out",
        "",
        "A campaign to N confirmed subscribers, sent by the release `email-campaign` binary with 2 "
        "instances fed from its queue as Lambda's event source feeds them (bench/campaign.py). **SES is "
        "a counting stub here** (aws-ses-v2-local would keep every mail in memory); DynamoDB (DynamoDB Local) and "
        "SQS (moto) are the emulators, with the campaign in a table of its own. `make bench` sends to "
        "10,000; `make bench-campaign` to 100,000 (its row keeps the date it was measured). A batch of 50 "
        "is some 53 DynamoDB requests one after another.",
        "",
        "| recipients | measured | SES calls | addresses in them | mailed twice | sent | failed "
        "| seconds, send to done | invocations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in campaigns:
        answer = run.get("campaign", {})
        lines.append(
            f"| {run['recipients']:,} | {run['measured'][:10]} | {run['ses_calls']:,} | {run['ses_recipients']:,} "
            f"| {run.get('ses_recipients_mailed_more_than_once')} | {answer.get('sent')} | {answer.get('failed')} "
            f"| {run['seconds_send_to_done']} | {run.get('lambda_invocations')} |"
        )
    return lines


def cost_lines(orders: dict, campaign: dict) -> list:
    lines = [
        "## Cost per 1,000 orders",
        "",
        "From the requests and own times above and AWS's public prices (us-east-1, on demand; "
        "bench/cost.py holds every input). Lambda time per invocation is taken as the measured own time "
        f"plus {orders['assumptions']['aws_call_ms']:g} ms per AWS call and "
        f"{orders['assumptions']['stripe_call_ms']:g} ms per Stripe call, at 128 MB; where no warm run "
        f"measured the own time, {orders['assumptions']['own_ms_unmeasured']:g} ms. One order's journey:",
        "",
        "| step | per order | Lambda invocations | own ms (each) | AWS calls | Lambda ms | write / read units | SQS requests | mails |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for step in orders["journey"]:
        lines.append(
            f"| {step['operation']} | {step['per_order']} | {step['invocations']} | {step['own_ms']} ({step['own_ms_is']}) "
            f"| {step['aws_calls']} | {step['lambda_ms']} | {step['write_units']:g} / {step['read_units']:g} "
            f"| {step['sqs_requests']} | {step['mails']} |"
        )
    lines += ["", "| | USD per 1,000 orders |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in orders["usd"].items()]
    lines += [f"| **total** | **{orders['usd_total']:.4f}** |", ""]
    lines.append(
        "Not in it: Stripe's fees (2.9% + 30 cents a card payment in the US, thousands of times the "
        "above), CloudWatch Logs, and the fixed cost of Lambda's SQS pollers (each queue's event source "
        "long-polls whether or not messages come: about 5 pollers x 3 receives a minute, near 650,000 "
        "requests or $0.26 a month per queue)."
    )
    if campaign:
        lines += [
            "",
            f"A campaign costs {campaign['usd_total']:.4f} USD per {campaign['recipients']:,} recipients: "
            + ", ".join(f"{k} {v:.4f}" for k, v in campaign["usd"].items()) + " (Lambda time is negligible).",
        ]
    return lines


def main():
    cold = load("coldstart.json")
    profile = load("profile.json")
    requests = load("requests.json")
    warm, sale = load("warm.json"), load("sale.json")
    lighthouse = load("lighthouse.json")
    campaigns = [load(path.name) for path in sorted(BENCH.glob("campaign*.json"))]
    campaigns.sort(key=lambda run: run["recipients"])
    orders = cost.per_thousand_orders(requests, warm)
    recipients = cost.per_thousand_recipients(requests)
    today = datetime.date.today().isoformat()
    results = {
        "measured": today,
        "machine": machine(),
        "goals": {"vs_floor": GOAL_VS_FLOOR, "vs_floor_stretch": STRETCH_VS_FLOOR, "size_mib": round(GOAL_SIZE_MIB, 2), "peak_rss_mib": GOAL_RSS_MIB},
        "cold_start": cold,
        "cold_start_profile": profile,
        "warm": warm,
        "lighthouse": lighthouse,
        "aws_requests": requests,
        "flash_sale": sale,
        "campaigns": campaigns,
        "cost_per_1000_orders": orders,
        "cost_per_1000_recipients": recipients,
        "misses": misses(cold["results"], profile, requests, sale, campaigns) + lighthouse_misses(lighthouse),
    }
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(cold["results"], BENCH / "results.png")

    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {today} with `make bench` on {m['cpu']} ({m['cores']} cores, {m['arch']}, Linux {m['kernel']}), "
        "everything on loopback against the local stack. Absolute times depend on the machine; "
        "the ratios to the floor measured in the same run are what carries over.",
        "",
    ]
    for section in (cold_start_lines(cold), profile_lines(profile), size_lines(profile), warm_lines(warm), lighthouse_lines(lighthouse), requests_lines(requests),
                    sale_lines(sale),
                    campaign_lines(campaigns), cost_lines(orders, recipients)):
        if section:
            lines += section + [""]
    lines += ["## What misses its goal", ""]
    lines += [f"- {miss}" for miss in results["misses"]] or ["- nothing"]
    (BENCH / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
