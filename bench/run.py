#!/usr/bin/env python3
"""`make bench` inside its private stack: every measurement in turn, then the report
(bench/results.{json,md,png}), drawn with the venv's matplotlib."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH.parent / ".venv" / "bin" / "python"

for script in ("requests.py", "coldstart.py"):
    code = subprocess.call([sys.executable, str(BENCH / script)])
    if code != 0:
        sys.exit(code)
sys.exit(subprocess.call([str(VENV_PYTHON), str(BENCH / "report.py")]))
