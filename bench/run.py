#!/usr/bin/env python3
"""`make bench` inside its private stack: every measurement in turn, then the report
(bench/results.{json,md,png}), drawn with the venv's matplotlib.

Lighthouse (bench/lighthouse/run.mjs, Node) audits the storefront's pages after the warm runs.
The steps that fill the table come last (the flash sale's 1,000 carts, the requests' campaign),
so the cold and warm figures are taken on a small table. The campaign fan-out works in a table of
its own."""

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH.parent / ".venv" / "bin" / "python"
STEPS = ("coldstart.py", "profile.py", "warm.py", "lighthouse/run.mjs", "sale.py", "requests.py", "console.py", "campaign.py")

began = time.monotonic()
for script in STEPS:
    started = time.monotonic()
    interpreter = "node" if script.endswith(".mjs") else sys.executable
    code = subprocess.call([interpreter, str(BENCH / script)])
    print(f"bench: {script} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if code != 0:
        print(f"bench: {script} failed ({code})", file=sys.stderr)
        sys.exit(code)
code = subprocess.call([str(VENV_PYTHON), str(BENCH / "report.py")])
print(f"bench: measured in {time.monotonic() - began:.0f} s", file=sys.stderr)
sys.exit(code)
