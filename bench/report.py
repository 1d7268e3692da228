#!/usr/bin/env python3
"""Gathers the measurements of one `make bench` run into bench/results.json, bench/results.md
and bench/results.png, with the machine they came from and the date, and the goals each figure
is held to. Runs with the project's venv (matplotlib draws the chart)."""

import datetime
import json
import os
import platform
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BENCH = Path(__file__).resolve().parent
FLOOR, PEER = "bench-floor", "python-boto3-peer"
GOAL_VS_FLOOR = 1.2
GOAL_SIZE_MIB = 5.0
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


def misses(cold: dict) -> list:
    found = []
    for name, row in cold.items():
        if name in (FLOOR, PEER):
            continue
        if row.get("vs_floor") and row["vs_floor"] > GOAL_VS_FLOOR:
            found.append(
                f"{name}: cold start {row['vs_floor']}x the floor (goal {GOAL_VS_FLOOR}x): its init builds "
                "SDK clients and reads configuration; fewer clients or lazier ones would bring it down"
            )
        if row.get("zip_mib") and row["zip_mib"] > GOAL_SIZE_MIB:
            found.append(
                f"{name}: zip {row['zip_mib']} MiB (goal {GOAL_SIZE_MIB} MiB): the AWS SDK crates and async-stripe's "
                "generated types dominate; fewer SDK features or one shared HTTP/TLS stack would shrink it"
            )
        if row.get("peak_rss_mib") and row["peak_rss_mib"] > GOAL_RSS_MIB:
            found.append(f"{name}: peak RSS {row['peak_rss_mib']} MiB (goal {GOAL_RSS_MIB} MiB)")
        for error in row.get("errors", []):
            if error == "no answer within the deadline":
                found.append(
                    f"{name}: {row['cold_starts']} of the cold starts answered; the others got no answer within "
                    "20 s (seen only for functions that call DynamoDB first: the single-threaded moto, not yet "
                    "understood); the medians are over those that answered"
                )
            else:
                found.append(f"{name}: its sample event was answered with an error: {error[:120]}")
    return found


def chart(cold: dict, path: Path):
    names = [n for n in cold if cold[n].get("first_response_ms_median")]
    names.sort(key=lambda n: cold[n]["first_response_ms_median"])
    values = [cold[n]["first_response_ms_median"] for n in names]
    colors = ["#888888" if n == FLOOR else "#d9822b" if n == PEER else "#2b6cb0" for n in names]
    figure, axis = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    axis.barh(names, values, color=colors)
    floor = cold.get(FLOOR, {}).get("first_response_ms_median")
    if floor:
        axis.axvline(floor * GOAL_VS_FLOOR, color="#c53030", linestyle="--", linewidth=1)
        axis.text(floor * GOAL_VS_FLOOR, len(names) - 0.5, f" {GOAL_VS_FLOOR}x floor", color="#c53030", fontsize=8)
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:.0f} ms", va="center", fontsize=8)
    axis.set_xlabel("cold start: process start to first response, median (ms)")
    axis.set_title("Cold start per function, beside the floor (grey) and a Python peer (orange)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    cold = json.loads((BENCH / "coldstart.json").read_text())
    requests = json.loads((BENCH / "requests.json").read_text())
    today = datetime.date.today().isoformat()
    results = {
        "measured": today,
        "machine": machine(),
        "goals": {"vs_floor": GOAL_VS_FLOOR, "size_mib": GOAL_SIZE_MIB, "peak_rss_mib": GOAL_RSS_MIB},
        "cold_start": cold,
        "aws_requests": requests,
        "misses": misses(cold["results"]),
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
        "## Cold start, size, memory",
        "",
        f"Each binary started {cold['cold_starts_each']} times against a local Lambda Runtime API, "
        "taking turns; median times from process start. The floor is a hello-world `lambda_http` "
        "built with the same profile; the peer is the browse listing in Python with boto3 under "
        f"awslambdaric. Peak RSS after {next(iter(cold['results'].values()))['load_invocations']} "
        "invocations in a row. Sizes: the stripped x86_64 binary and its deployment zip.",
        "",
        "![cold start](results.png)",
        "",
        "| function | init done (ms) | first response (ms) | x floor | binary (MiB) | zip (MiB) | peak RSS (MiB) | sample event answered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(cold["results"].items(), key=lambda kv: kv[1].get("first_response_ms_median") or 0):
        lines.append(
            f"| {name} | {row.get('init_ms_median')} | {row.get('first_response_ms_median')} | "
            f"{row.get('vs_floor', '')} | {row.get('binary_mib', '')} | {row.get('zip_mib', '')} | "
            f"{row.get('peak_rss_mib') or ''} | {', '.join(row.get('answered', []))} |"
        )
    lines += ["", "## AWS requests per operation", "", f"Counted by the emulators on {requests['measured']}.", ""]
    lines += ["| operation | DynamoDB | SQS | SES |", "|---|---|---|---|"]
    for row in requests["rows"]:
        ddb = ", ".join(f"{k} {v}" for k, v in row["dynamodb"].items()) or "-"
        sqs = ", ".join(f"{k} {v}" for k, v in row["sqs"].items()) or "-"
        lines.append(f"| {row['operation']} | {ddb} | {sqs} | {row['ses']} |")
    lines += ["", "## What misses its goal", ""]
    lines += [f"- {miss}" for miss in results["misses"]] or ["- nothing"]
    (BENCH / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
