# Assay's entry points. `make run` and `make test` are the two a newcomer needs; both start the
# real local stack (Kafka from Maven Central, ClickHouse from Debian) when it is not already up
# and stop only what they started.

SHELL := /bin/bash
GO ?= go
GOFLAGS ?=
export ASSAY_KAFKA_BROKERS ?= 127.0.0.1:19092
export ASSAY_CLICKHOUSE_ADDR ?= 127.0.0.1:19000

PKGS := ./...
BIN := bin

.PHONY: all build test unit run bench gobench chaos abuse lint fmt fuzz stack-up stack-down clean

all: lint build test

build: ## compile every binary into bin/
	$(GO) build $(GOFLAGS) -o $(BIN)/ ./services/...

unit: ## unit tests only (-short): nothing needs to run, integration tests skip
	$(GO) test $(GOFLAGS) -short -count=1 $(PKGS)

# Each target that needs the stack brings it up under an owner of its own (ops/stack.sh), so
# stopping at its end stops only what it started: a `make test` beside a running `make run`
# leaves that stack alone.
test: ## unit and integration tests against the real broker and database (and the checkers of ops/checkers.sh: current ClickHouse via chdb, openlineage-python, SciPy with pycocotools and krippendorff, DKPro Statistics, Apache Avro for Java, headless Chromium, promtool)
	@ops/stack.sh with test ops/checkers.sh env ASSAY_INTEGRATION=1 $(GO) test $(GOFLAGS) -count=1 -timeout 40m $(PKGS)

run: build ## local stack up, schema and topics applied; runs until Ctrl-C
	@ops/run.sh

bench: ## baselines and the full pipeline in one run; table printed, JSON and profiles into loadtest/results/
	@$(GO) build $(GOFLAGS) -o $(BIN)/bench ./loadtest/cmd/bench
	@ops/stack.sh with bench $(BIN)/bench

gobench: ## the go test benchmarks against the real local stack
	@ops/stack.sh with gobench env ASSAY_INTEGRATION=1 $(GO) test $(GOFLAGS) -run '^$$' -bench . -benchmem -timeout 40m $(PKGS)

chaos: ## fault suite under load (private broker, ClickHouse cut 60 s, kill -9, malformed input); summary into loadtest/results/
	@ops/stack.sh with chaos env ASSAY_INTEGRATION=1 ASSAY_CHAOS_OUT=$(CURDIR)/loadtest/results $(GO) test $(GOFLAGS) -tags chaos -count=1 -v -run TestFaultSuite -timeout 15m ./loadtest/chaos

# ABUSE_FLAGS=-quick runs the short variant (a few seconds of each attack, a smaller flood).
ABUSE_FLAGS ?=
abuse: ## abuse suite on the real stack (unauthenticated flood, gzip bombs and slow clients, pre-label flood, poison batch, SIGTERM with ClickHouse down); summary into loadtest/results/
	@chdb=$$(ops/clickhouse/chdb/setup.sh) && \
	ops/stack.sh with abuse env ASSAY_INTEGRATION=1 ASSAY_CHDB_PYTHON=$$chdb ASSAY_CHAOS_OUT=$(CURDIR)/loadtest/results $(GO) test $(GOFLAGS) -tags abuse -count=1 -v -run 'TestAbuseSuite|TestGuardColumnOnCurrentClickHouse' -timeout 45m ./loadtest/chaos $(ABUSE_FLAGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fuzz: ## a short run of every fuzz target
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime 30s ./services/ingest/gateway/

stack-up:
	@ops/stack.sh up

stack-down:
	@ops/stack.sh down

clean:
	rm -rf $(BIN)
