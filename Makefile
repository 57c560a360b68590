# regate — two commands matter: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
OPA_VERSION := 1.22.2
OPA := .bin/opa
BUNDLE := build/bundle.tar.gz
ENTRYPOINTS := -e regate/decision -e system/log/mask
CAPABILITIES := testdata/opa/wasm-capabilities.json
REGO_COVERAGE := 90
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)$(shell git diff --quiet 2>/dev/null || echo -dirty)

.PHONY: all deps tools bundle rego-check typecheck build test test-ts clients run demo-data bench fuzz fuzz-seeds soak clean

all: build bundle

# npm ci installs exactly what the lock file says and never writes it: a fresh clone stays clean.
# The lock must list every platform's optional packages (esbuild's, rollup's); when some are missing,
# npm install adds them back (rewriting the lock) and npm ci refuses with "Missing: ... from lock file".
# After changing dependencies, run npm install and commit the lock it writes.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

tools:
	@OPA_VERSION=$(OPA_VERSION) scripts/install-opa.sh

$(OPA):
	@OPA_VERSION=$(OPA_VERSION) scripts/install-opa.sh

# --capabilities: a builtin the WASM target cannot run fails here, not in a request at runtime.
bundle: $(OPA)
	@mkdir -p build
	$(OPA) build -t wasm $(ENTRYPOINTS) --capabilities $(CAPABILITIES) --ignore "*_test.rego" -r "$(REVISION)" -o $(BUNDLE) rego/
	@echo "built $(BUNDLE) (revision $(REVISION))"

rego-check: $(OPA)
	@out=$$($(OPA) fmt --list --fail rego/) || { echo "opa fmt: not formatted: $$out (run: $(OPA) fmt -w rego/)"; exit 1; }
	$(OPA) check --strict -s testdata/schemas/input.schema.json rego/
	$(OPA) test rego/ testdata/golden/opa/ --coverage --threshold $(REGO_COVERAGE) --format=json > build/rego-coverage.json \
	  || { $(OPA) test rego/ testdata/golden/opa/ -v; echo "opa test failed or coverage below $(REGO_COVERAGE)%"; exit 1; }
	@echo "opa test: passed, coverage $$(jq -r '.coverage' build/rego-coverage.json 2>/dev/null || node -e 'console.log(require("./build/rego-coverage.json").coverage)')%"

# The benchmarks are typechecked too: tsx runs them without, and two had drifted from the types they build.
typecheck: deps
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p sidecar/bench/tsconfig.json

build: deps
	npx tsc -p tsconfig.json

clients:
	scripts/clients-setup.sh

# build/test-output/ collects what regate writes during the suite; the secrets sweep then greps all of it for every
# configured secret and protected demo value (docs/reliability.md), and removes it when clean.
test-ts: deps bundle
	rm -rf build/test-output
	npx vitest run --reporter=default --reporter=json --outputFile.json=build/vitest.json
	@node -e 'const r=require("./build/vitest.json"); console.log(`$${r.numPassedTests} passed, $${r.numFailedTests} failed, $${r.numPendingTests} skipped`)'
	npx tsx sidecar/test/reliability/secrets-sweep.ts

test: deps tools bundle rego-check typecheck clients test-ts

# Plain node with tsx's loader, not tsx's CLI: on Ctrl-C that CLI SIGKILLs a child that does not report the signal
# within 30 ms (a busy machine), which ended make run before it stopped the embedded database.
run: deps tools bundle
	node --import tsx sidecar/demo/run.ts $(if $(DATABASE_URL),--database-url "$(DATABASE_URL)")

demo-data: deps
	@test -n "$(DATABASE_URL)" || { echo "usage: make demo-data DATABASE_URL=postgres://user:pass@host:port/db"; exit 1; }
	npx tsx sidecar/demo/load-data.ts --database-url "$(DATABASE_URL)"

# regate runs from the compiled build, as the image runs it (tsx's loader costs it ~10 us of CPU per statement).
bench: deps tools bundle build
	BENCH_COMPILED=1 npx tsx sidecar/bench/run-all.ts

# Long fuzz run (docs/reliability.md): FUZZ_CASES, FUZZ_SECONDS, FUZZ_SEED, FUZZ_TARGETS; findings go to testdata/fuzz/.
fuzz: deps
	npx tsx sidecar/test/fuzz/run.ts

# Re-captures the real-driver seeds in testdata/fuzz/seeds/ (psql, psycopg, asyncpg, pgx, JDBC, node-postgres).
fuzz-seeds: deps clients
	npx tsx sidecar/test/fuzz/capture-seeds.ts

# Write soak (docs/reliability.md): pgbench writes through regate for SOAK_SECONDS (default 600), then an exact
# reconciliation with what pgbench saw committed; SOAK_CLIENTS, SOAK_MODE. Report: build/bench/soak.json.
soak: deps tools bundle
	SOAK_SECONDS=$${SOAK_SECONDS:-600} npx tsx sidecar/bench/soak.ts

clean:
	rm -rf build dist
