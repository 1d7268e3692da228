#!/usr/bin/env python3
"""`make bench` inside its private stack: every measurement in turn, then the report
(bench/results.{json,md,png}), drawn with the venv's matplotlib.

The order matters: the DynamoDB emulator reads its whole table for every query and copies it for
every item of a transaction, so the steps that fill it come last: the flash sale (1,000 carts)
before the requests' campaign (3,000 items). The campaign fan-out works in a table of its own."""

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH.parent / ".venv" / "bin" / "python"
STEPS = ("coldstart.py", "warm.py", "sale.py", "requests.py", "campaign.py")

began = time.monotonic()
for script in STEPS:
    started = time.monotonic()
    code = subprocess.call([sys.executable, str(BENCH / script)])
    print(f"bench: {script} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if code != 0:
        print(f"bench: {script} failed ({code})", file=sys.stderr)
        sys.exit(code)
code = subprocess.call([str(VENV_PYTHON), str(BENCH / "report.py")])
print(f"bench: measured in {time.monotonic() - began:.0f} s", file=sys.stderr)
sys.exit(code)
