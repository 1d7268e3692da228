#!/usr/bin/env bash
# Schemathesis against the stack that `infra/local/stack.py run` started (SHOP_API_URL,
# SHOP_ADMIN_TOKEN), once fixtures.py has made a product, a cart and an order: every operation of
# openapi.yaml, at most SCHEMATHESIS_EXAMPLES generated requests per operation in the fuzzing
# phase (the coverage phase adds its boundary cases), four checks; any failure fails. Reports go
# to .stack/schemathesis/ (JUnit, and an NDJSON log of every request sent).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.stack/schemathesis
mkdir -p "$out"
fixtures=$(python3 tests/schemathesis/fixtures.py)
eval "$fixtures"
# hooks.py puts the fixtures' checkout cart into POST /checkout's generated bodies.
export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/schemathesis --no-color --config-file tests/schemathesis/schemathesis.toml run openapi.yaml \
  --url "${SHOP_API_URL:?run through infra/local/stack.py run}" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --seed "${SCHEMATHESIS_SEED:-21}" \
  --request-timeout 10 \
  --report junit,ndjson --report-dir "$out" \
  "$@"
