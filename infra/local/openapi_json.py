#!/usr/bin/env python3
"""Writes openapi.json from openapi.yaml (the one the API serves at GET /openapi.json, embedded
in the browse function at compile time, so no Lambda parses YAML). Run it after editing
openapi.yaml; the parity test in tests/tests/openapi.rs fails while the two differ.

Usage: .venv/bin/python infra/local/openapi_json.py [--check]
"""

import json
import pathlib
import sys

import yaml  # PyYAML, in the project's .venv (cfn-lint and moto need it)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    text = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    target = ROOT / "openapi.json"
    if "--check" in sys.argv[1:]:
        if target.read_text(encoding="utf-8") != text:
            print("openapi.json differs from openapi.yaml: run infra/local/openapi_json.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
