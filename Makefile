# dune-mcp: build, run, demo, test, evals, bench, lint.
GO        ?= go
BIN       ?= dune-mcp
STATICCHECK_VERSION ?= v0.8.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: build run demo test unit walk lint vet staticcheck evals bench conformance clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	./$(BIN)

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

lint: vet staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

# The full 22-column walk of 100,000 rows through the tools (every row once, in
# order, fetched upstream <= 1.05x delivered) is too slow under -race, so it
# runs here without it.
walk:
	$(GO) test -count=1 -run '^TestFullWalkReturnsEveryRowOnceInOrder$$' ./tools/

test: lint unit walk

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A scripted agent session against the embedded Dune emulator: what each tool returns.
demo: build
	./$(BIN) demo-session

# The official MCP conformance suite (Node 22 + @modelcontextprotocol/conformance,
# installed into .cache/conformance on first use) against `dune-mcp --demo --transport http`.
conformance: build
	.ci/conformance ./$(BIN)

clean:
	rm -f $(BIN)

# --- evals (evals/README.md): every scenario against the real binary on stdio
# and streamable HTTP; prints the scorecard, writes evals/out/report.json.
# Narrow or detail a run with e.g. EVALS_FLAGS='-run walk -v -dump /tmp/evals'.
EVALS_FLAGS ?=
evals:
	$(GO) run ./evals/cmd/evals $(EVALS_FLAGS)
