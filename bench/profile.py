#!/usr/bin/env python3
"""Where a cold start's instructions go: each function's first invocation under callgrind.

Wall times on this machine move by a third from one run to the next; instruction counts do not.
Each release binary with its symbols (`make bench-build` keeps a copy in target/bench-symbols) is
started once under `valgrind --tool=callgrind`, as coldstart.py starts it (its own Runtime API, the
template's variables, the same sample event), and stopped with SIGTERM once it has answered, so
callgrind writes its counts: process start to the first response, init included.

From each profile (callgrind_annotate's self cost per function):
- the total instructions, beside the floor's (hello-world `lambda_http`);
- the self cost grouped by crate (the first path segment of the symbol: `rustls`, `aws_lc`, ...;
  the dynamic loader and libc by their file);
- the functions with the highest self cost;
- and, from the same binary, its symbols' bytes by crate (`nm --print-size`), what the zip is made of.

Writes bench/profile.json (report.py puts it in results.md). Standard library only.
"""

import json
import os
import re
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from coldstart import EVENTS, FLOOR
from lambda_host import Instance, answer_of, function_env, signed_by_stripe

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ROOT / "target" / "bench-symbols"
OUT_DIR = ROOT / "target" / "bench-callgrind"
DEADLINE = 120.0  # callgrind runs a program some 50 times slower
TOP_CRATES = 10
TOP_FUNCTIONS = 12

# `callgrind_annotate` lines: "<Ir> (<pct>%)  <file>:<function> [<object>]" (numbers with commas).
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*(?:\[(.*)\])?\s*$")


def profile(name: str, event: bytes, env: dict) -> tuple:
    """Runs `name` once under callgrind; its output file and what it answered."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{name}.callgrind"
    out.unlink(missing_ok=True)
    argv = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
            str(SYMBOLS / name / "bootstrap")]
    instance = Instance(name, argv, env, [event], ROOT, DEADLINE)
    try:
        answered = instance.invocations.wait_answered(1, DEADLINE)
        # SIGTERM, not SIGKILL: valgrind writes the counts as the program dies.
        instance.process.send_signal(signal.SIGTERM)
        instance.process.wait(timeout=DEADLINE)
    finally:
        instance.stop()
    if not answered:
        raise RuntimeError(f"{name} did not answer under callgrind within {DEADLINE:.0f} s")
    return out, answer_of(instance.invocations.bodies[0])


def function_of(entry: str) -> str:
    """The function of callgrind_annotate's `file:function` (`???:` when the file is unknown)."""
    match = re.match(r"^([^:]*):(?!:)(.*)$", entry)
    return match.group(2) if match else entry


def crate_of(symbol: str, obj: str) -> str:
    """The crate a demangled symbol belongs to: `<rustls::conn::X as ...>::f` is rustls."""
    # Drop glue belongs to what it drops.
    symbol = symbol.removeprefix("core::ptr::drop_in_place<")
    core = symbol.lstrip("<&*( ")
    core = re.sub(r"^(?:mut |dyn |const )+", "", core)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", core)
    if match:
        return match.group(1)
    if obj:
        return Path(obj).name  # ld-linux, libc: no crate
    return "(C, no crate)"  # aws-lc's C, linked in


def read(out: Path) -> dict:
    """Total Ir, self Ir by crate, top functions by self Ir, from callgrind_annotate."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", "--show-percs=yes", "--auto=no", str(out)],
        check=True, capture_output=True, text=True,
    ).stdout
    total = 0
    functions = []
    for line in text.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        match = LINE.match(line)
        if not match or "PROGRAM TOTALS" in line:
            continue
        ir, symbol, obj = int(match.group(1).replace(",", "")), function_of(match.group(2)), match.group(3) or ""
        functions.append((ir, symbol, obj))
    crates = defaultdict(int)
    for ir, symbol, obj in functions:
        crates[crate_of(symbol, obj)] += ir
    top_crates = sorted(crates.items(), key=lambda item: -item[1])[:TOP_CRATES]
    top_functions = sorted(functions, key=lambda f: -f[0])[:TOP_FUNCTIONS]
    share = lambda ir: round(100 * ir / total, 1) if total else 0
    return {
        "instructions": total,
        "crates": [{"crate": crate, "instructions": ir, "percent": share(ir)} for crate, ir in top_crates],
        "functions": [
            {"function": symbol, "instructions": ir, "percent": share(ir)}
            for ir, symbol, _ in top_functions
        ],
    }


def sizes(binary: Path) -> dict:
    """The bytes of the binary's symbols (code and data), by crate: what makes a zip large."""
    text = subprocess.run(
        ["nm", "--print-size", "--size-sort", "--demangle", str(binary)],
        check=True, capture_output=True, text=True,
    ).stdout
    crates = defaultdict(int)
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2].lower() in {"t", "d", "r", "v", "w"}:
            crates[crate_of(parts[3], "")] += int(parts[1], 16)
    total = sum(crates.values())
    top = sorted(crates.items(), key=lambda item: -item[1])[:TOP_CRATES]
    return {
        "symbol_kib": round(total / 1024),
        "crates": [{"crate": crate, "kib": round(size / 1024), "percent": round(100 * size / total, 1)}
                   for crate, size in top],
    }


def main() -> int:
    names = [FLOOR] + list(EVENTS)
    missing = [name for name in names if not (SYMBOLS / name / "bootstrap").exists()]
    if missing:
        print(f"profile: no binary with symbols for {', '.join(missing)}; run `make bench-build`", file=sys.stderr)
        return 1
    http_event = (ROOT / "events" / "browse" / "list-products.json").read_bytes()
    results = {}
    for name in names:
        if name == FLOOR:
            event, env = http_event, {}
        else:
            event = (ROOT / "events" / name / EVENTS[name]).read_bytes()
            if name == "payment-webhook":
                event = signed_by_stripe(event)
            env = function_env(ROOT, name)
        out, answer = profile(name, event, env)
        results[name] = read(out) | {"answered": answer, "size": sizes(SYMBOLS / name / "bootstrap")}
        print(f"profile: {name}: {results[name]['instructions']:,} instructions, {answer}", file=sys.stderr)
    floor = results[FLOOR]["instructions"]
    for summary in results.values():
        summary["vs_floor"] = round(summary["instructions"] / floor, 2) if floor else None
    report = {
        "what": "instructions (callgrind Ir) from process start to the first response, one cold start each; "
        "self cost by crate and the functions with the most; the symbols' bytes by crate (nm)",
        "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip(),
        "results": results,
    }
    (ROOT / "bench" / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
