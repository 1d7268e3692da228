# The two commands: `make dev` and `make test`. Everything they need is installed into the
# project (.venv, node_modules); nothing is installed system-wide.

SHELL := /bin/bash
VENV := .venv
FUNCTIONS := $(notdir $(wildcard functions/*))
NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)
ifeq ($(NEXTEST),yes)
RUN_TESTS := cargo nextest run --workspace --no-fail-fast
BUILD_TESTS := cargo nextest run --workspace --no-run
else
RUN_TESTS := cargo test --workspace --no-fail-fast
BUILD_TESTS := cargo test --workspace --no-run
endif

# cargo-deny, built from crates.io into the project when missing (no binary is downloaded).
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := .tools/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev dev-reset test tools redrive replay-event resend-mail bench bench-build valgrind bench-campaign deps java chromium gateway release sam-build lint client clean

## dev: install, start the local stack on the fixed ports, seed the demo catalog, serve the shop:
## the storefront on 127.0.0.1:3001 (SHOP_STOREFRONT_PORT), the API on 127.0.0.1:3000 (SHOP_PORT),
## the console on 127.0.0.1:3002 (SHOP_CONSOLE_PORT), signed in as the first owner it prints
## (SHOP_STAFF_EMAIL, default merchant@example.com; SHOP_STAFF_PASSWORD, made once when unset),
## the API reference on 127.0.0.1:3003 (SHOP_REFERENCE_PORT).
## Its tables live in .stack/dev/dynamodb, so a restart keeps orders, carts and stock.
dev: deps gateway docs/api/node_modules/.installed
	python3 infra/local/stack.py dev

## dev-reset: forget the dev shop's tables, then start it afresh
dev-reset:
	rm -rf .stack/dev/dynamodb
	$(MAKE) dev

## bench: measure on a private stack and write bench/results.{json,md,png}: cold start, size and
## peak memory of every release binary beside a floor and a Python peer, warm latency per
## operation, AWS requests per operation, a flash sale, a campaign fan-out, cost per 1,000 orders.
## Lighthouse on the storefront's home, a product page and the cart (bench/lighthouse, installed
## for the bench alone). Builds the release binaries first (as `make release`, plus the floor: ~20
## minutes from cold on 2 cores); the measuring itself takes about 10 minutes, every step under a deadline.
bench: deps gateway chromium valgrind $(VENV)/.bench bench/lighthouse/node_modules/.installed bench-build
	python3 infra/local/stack.py run -- python3 bench/run.py

## bench-campaign: the campaign fan-out to 100,000 recipients alone (bench/campaign-100000.json,
## shown in bench/results.md by the next `make bench`)
bench-campaign: deps gateway bench-build
	BENCH_CAMPAIGN_RECIPIENTS=100000 python3 infra/local/stack.py run -- python3 bench/campaign.py

$(VENV)/.schemathesis: tests/schemathesis/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/schemathesis/requirements.txt
	touch $@

$(VENV)/.bench: bench/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

# Lighthouse and its puppeteer-core only for `make bench`: `make test` and CI install the root
# package.json, which stays lean.
bench/lighthouse/node_modules/.installed: bench/lighthouse/package.json bench/lighthouse/package-lock.json
	cd bench/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Redoc for the API reference page (make dev, and its browser test): installed apart, as Lighthouse.
docs/api/node_modules/.installed: docs/api/package.json docs/api/package-lock.json
	cd docs/api && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## bench-build: the release binaries as `make release` builds them, plus the floor. They are linked
## with their symbols, kept in target/bench-symbols for the callgrind profile (bench/profile.py),
## then stripped in place as the release profile strips them.
bench-build: deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_PROFILE_RELEASE_STRIP=false cargo lambda build --release --target x86_64-unknown-linux-gnu $(addprefix -p ,$(FUNCTIONS)) -p bench-floor
	@for name in $(FUNCTIONS) bench-floor; do \
	  mkdir -p target/bench-symbols/$$name \
	  && cp target/lambda/$$name/bootstrap target/bench-symbols/$$name/bootstrap \
	  && strip --strip-all target/lambda/$$name/bootstrap || exit 1; done

## valgrind: the bench's profile counts a cold start's instructions with callgrind (Debian's
## valgrind, installed when missing).
valgrind:
	@command -v valgrind >/dev/null || { \
	  echo "make: installing Debian's valgrind for the bench's profile"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends valgrind \
	  || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends valgrind; } \
	  || { echo "make: could not install valgrind; install it (Debian: apt-get install valgrind)"; exit 1; }; }

## test: install, start a private stack on free ports (the API's, the storefront's and the
## console's among them, exported as SHOP_API_URL, SHOP_STOREFRONT_URL and SHOP_CONSOLE_URL, with
## the console's first owner as SHOP_STAFF_EMAIL / SHOP_STAFF_PASSWORD), run every test, stop it
## Then the browser tests (tests/browser, Node's test runner driving Debian's chromium through
## playwright-core) against the same stack; both always run, and either failing fails the target.
## First the Stripe.js stand-in's own check (tests/stripe_js/check.py, its own server). Last,
## Schemathesis against the same stack (tests/schemathesis/run.sh): every operation of
## openapi.yaml with generated requests, answers checked against it; a failure fails the target.
test: deps gateway chromium $(VENV)/.schemathesis docs/api/node_modules/.installed
	$(BUILD_TESTS)
	python3 tests/stripe_js/check.py
	python3 infra/local/stack.py run -- bash -c '$(RUN_TESTS); rust=$$?; node --test tests/browser/; browser=$$?; tests/schemathesis/run.sh; api=$$?; exit $$(( rust || browser || api ))'

deps: $(VENV)/.installed node_modules/.installed java

## chromium: the browser tests drive Debian's chromium (never a downloaded browser); it is
## installed when missing.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "make: installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends chromium \
	  || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; } \
	  || { echo "make: could not install chromium; install it (Debian: apt-get install chromium)"; exit 1; }; }

## java: DynamoDB Local (from npm, see package.json) runs on Java 17+; Debian's headless runtime
## is installed when no `java` is on the PATH.
java:
	@command -v java >/dev/null || { \
	  echo "make: installing a Java runtime for DynamoDB Local (default-jre-headless)"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends default-jre-headless \
	  || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends default-jre-headless; } \
	  || { echo "make: could not install Java; install a Java 17+ runtime (Debian: apt-get install default-jre-headless)"; exit 1; }; }

$(VENV)/.installed: infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

gateway:
	cargo build -p shop-local

## redrive: moves a queue's dead letters back to it once their cause is fixed (docs/runbook.md):
## QUEUE=Fulfillment|Email|MailEvents|Campaign|ReservationExpiry; on AWS with STACK=<stack>
## (SQS's own StartMessageMoveTask), or LOCAL=1 for make dev's stack
redrive: $(VENV)/.installed
	$(VENV)/bin/python infra/ops/redrive.py $(QUEUE) $(if $(STACK),--stack $(STACK)) $(if $(LOCAL),--local)

## replay-event: delivers one Stripe event to the webhook again (docs/runbook.md): EVENT=evt_...;
## on AWS with STACK=<stack>, else to the local stack (make dev's)
replay-event: $(VENV)/.installed
	$(VENV)/bin/python infra/ops/replay_event.py $(EVENT) $(if $(STACK),--stack $(STACK))

## resend-mail: asks for one mail of an order again (docs/runbook.md): ORDER=<id> KIND=<kind>
## [REFERENCE=...]; on AWS with STACK=<stack>, or LOCAL=1 for make dev's stack
resend-mail: $(VENV)/.installed
	$(VENV)/bin/python infra/ops/resend_mail.py $(ORDER) $(KIND) $(if $(REFERENCE),--reference $(REFERENCE)) $(if $(STACK),--stack $(STACK)) $(if $(LOCAL),--local)

## tools: the project's own tools (cargo-deny), for CI to build beside the tests
tools: $(CARGO_DENY)

$(CARGO_DENY):
	cargo install --quiet --locked --no-default-features --root .tools/cargo-deny-$(CARGO_DENY_VERSION) cargo-deny --version $(CARGO_DENY_VERSION)

## release: the Lambda artifacts of every function for x86_64 (target/lambda/<name>/bootstrap) in
## one cargo invocation, so that the functions' link-time optimisation runs on every core at once.
## (`sam build` builds each function on its own, with that function's features, so it compiles
## again what this built; deployers run `make sam-build`, CI runs this.)
release: deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --target x86_64-unknown-linux-gnu $(addprefix -p ,$(FUNCTIONS))

## sam-build: what `sam build` deploys, for x86_64 (arm64 needs the aarch64 rust-std; see README)
sam-build: deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build --parameter-overrides Architecture=x86_64

## lint: format, clippy and template checks; the dependencies' licenses, bans and sources
## (cargo-deny, deny.toml); the typed TypeScript client (clients/typescript) generated from
## openapi.json as committed, and its example compiling against it
lint: deps $(CARGO_DENY)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(CARGO_DENY) check licenses bans sources
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint
	@mkdir -p .stack/client
	node_modules/.bin/openapi-typescript openapi.json -o .stack/client/schema.d.ts >/dev/null
	@cmp -s .stack/client/schema.d.ts clients/typescript/schema.d.ts \
	  || { echo "make: clients/typescript/schema.d.ts is not openapi.json's: run make client"; exit 1; }
	node_modules/.bin/tsc -p clients/typescript/tsconfig.json

## client: openapi.json from openapi.yaml, then the TypeScript client's types from it
client: deps
	$(VENV)/bin/python infra/local/openapi_json.py
	node_modules/.bin/openapi-typescript openapi.json -o clients/typescript/schema.d.ts

clean:
	rm -rf .stack .aws-sam .tools
