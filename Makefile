# dune-mcp: build, run, demo, test, evals, bench, lint.
GO        ?= go
BIN       ?= dune-mcp
STATICCHECK_VERSION ?= v0.8.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: build dist mcpb image goinstall run demo test check race walk lint fmt vet staticcheck evals bench figures load load-cluster conformance sdk-compat clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Release binaries: static (CGO_ENABLED=0), -trimpath, version stamped in,
# dist/dune-mcp_<version>_<os>_<arch>[.exe], plus dist/SHA256SUMS
# (check with: cd dist && sha256sum -c SHA256SUMS).
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
dist:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
		out=dist/$(BIN)_$(VERSION)_$${os}_$${arch}$$ext; echo "$$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out .; \
	done
	cd dist && sha256sum $(BIN)_* > SHA256SUMS

# MCP Bundles for Claude Desktop (one .mcpb per platform, from the dist
# binaries) and dist/server.json, the MCP registry entry listing them with
# their SHA-256; each manifest passes `mcpb validate` (npm @anthropic-ai/mcpb,
# installed into .cache/mcpb) and server.json the registry's JSON Schema.
# See docs/install.md.
mcpb: dist
	packaging/mcpb/build $(VERSION) dist

# The container image (packaging/Dockerfile): the static linux binary on
# scratch, non-root, HTTP on 0.0.0.0:8080, HEALTHCHECK `dune-mcp healthcheck`.
# Built with buildah (IMAGE_TOOL=podman works too) in docker format, which
# keeps HEALTHCHECK. .ci/image builds and checks it. deploy/compose.yaml runs
# it: make image IMAGE_TAG=local. With Docker: make image IMAGE_TOOL=docker
# IMAGE_FORMAT= (docker builds the docker format without the flag).
IMAGE      ?= dune-mcp
IMAGE_TAG  ?= $(VERSION)
IMAGE_FORMAT ?= --format docker
IMAGE_TOOL ?= buildah
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
CA_BUNDLE  ?= /etc/ssl/certs/ca-certificates.crt
image:
	rm -rf .cache/image && mkdir -p .cache/image
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o .cache/image/$(BIN) .
	cp $(CA_BUNDLE) .cache/image/ca-certificates.crt
	$(IMAGE_TOOL) build $(IMAGE_FORMAT) --platform linux/$(IMAGE_ARCH) --build-arg VERSION=$(VERSION) \
		-f packaging/Dockerfile -t $(IMAGE):$(IMAGE_TAG) .cache/image

# `go install github.com/dune-mcp/dune-mcp@latest` as a user runs it, from a
# local module proxy serving HEAD (.ci/goinstall); CI runs it.
goinstall:
	.ci/goinstall

run: build
	./$(BIN)

# --- checks. `make test` is the everyday command (README "Development");
# `make check` is what CI runs: everything `make test` checks, plus the slow
# suites. Both pass -count=1: the e2e and evals tests build and run the
# binary, which go test's result cache does not see change.

# gofmt, go vet and staticcheck.
lint: fmt vet staticcheck

# gofmt over the Go files git tracks or would track (new files included).
fmt:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# lint, then every unit and e2e test without the race detector, one line per
# package as it finishes. -short skips the slow suites, which make check runs:
# the eval scenarios (TestEvals) and the 100,000-row walks.
test: lint
	$(GO) test -short -count=1 ./...

# make test (the race detector changes some code paths, so it runs without
# too), then every test, the slow suites included, under the race detector,
# then the 22-column walk, which skips itself under -race, then the official
# TypeScript client against the emulator.
check: test race walk sdk-compat

race:
	$(GO) test -race -count=1 ./...

# The full 22-column walk of 100,000 rows through the tools (every row once, in
# order, fetched upstream <= 1.05x delivered) is too slow under -race, so it
# runs here without it.
walk:
	$(GO) test -count=1 -run '^TestFullWalkReturnsEveryRowOnceInOrder$$' ./tools/

# Every benchmark once (BenchmarkFigures is `make figures`), then issue 10's
# speed figures BENCH_COUNT times each and side by side (cmd/benchfigures):
# get_latest_result over stdio on the real binary vs a bare fetch, the
# server's CPU per call, a cached next_page, decoding. About 2 minutes.
# (…/emulator=bench, the emulator in the benchmark's process, runs by hand.)
BENCH_COUNT ?= 5
BENCH_HEADLINE := StdioLatestVsBareFetch|CachedNextPage|DecodeDEXPage30000$$
bench:
	$(GO) test -run '^$$' -bench . -skip 'Figures|$(BENCH_HEADLINE)' -benchmem ./...
	{ $(GO) test -run '^$$' -bench 'StdioLatestVsBareFetch/(emulator=process|claude-code)$$' -benchtime 60x -count $(BENCH_COUNT) ./e2e/ && \
	  $(GO) test -run '^$$' -bench 'CachedNextPage' -count $(BENCH_COUNT) ./tools/ && \
	  $(GO) test -run '^$$' -bench 'DecodeDEXPage30000$$' -count $(BENCH_COUNT) ./dune/; } | $(GO) run ./cmd/benchfigures

# A team deployment under load (needs redis-server): 200 agents walking demo
# results across 3 replicas of the binary that share one Redis, for 60 s.
# Prints errors, p50/p99 latency, each replica's RSS and the page cache's
# hits (local vs shared), then stops. LOAD_CLUSTER_CLIENTS and
# LOAD_CLUSTER_DURATION change the load; LOAD_CLUSTER_REDIS=off runs it on
# replicas that share nothing, for comparison, =valkey on valkey-server.
LOAD_CLUSTER_DURATION ?= 60s
LOAD_CLUSTER_CLIENTS  ?= 200
LOAD_CLUSTER_REDIS    ?= on
load-cluster:
	DUNE_MCP_LOAD_CLUSTER=$(LOAD_CLUSTER_DURATION) LOAD_CLUSTER_CLIENTS=$(LOAD_CLUSTER_CLIENTS) LOAD_CLUSTER_REDIS=$(LOAD_CLUSTER_REDIS) \
		$(GO) test -count=1 -timeout 15m -run '^TestLoadCluster$$' -v ./e2e/ | grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS$$'
# LOAD_CLIENTS streamable-HTTP MCP clients (mcp-go's) call the tools back to
# back for LOAD_DURATION against `dune-mcp --demo` on 127.0.0.1; prints calls/s,
# p50/p99, errors by kind, and the server's RSS and open fds before, at peak
# and after; then stops the server with SIGTERM. Not part of make test/check.
LOAD_CLIENTS  ?= 200
LOAD_DURATION ?= 60s
load: build
	$(GO) run ./cmd/load -bin ./$(BIN) -clients $(LOAD_CLIENTS) -duration $(LOAD_DURATION)
# The README's "What the model sees" figures: rows shown vs plain CSV per
# dataset, budget and --result-views mode, model-visible tokens per row, the
# cached next_page median, the summary's CPU for a 1,000-row page, and the
# 22-column walk of 100,000 rows at 25,000 tokens (calls per walk).
figures:
	$(GO) test -run '^$$' -bench 'Figures|CachedNextPage|LatestVsBareFetch' -benchtime 5x ./tools/
	$(GO) test -run '^$$' -bench 'Summarize1000x22' -count 3 ./tools/summary/
	$(GO) test -count=1 -run '^TestFullWalkReturnsEveryRowOnceInOrder$$' -v ./tools/ | grep 'walk:'

# A scripted agent session against the embedded Dune emulator: what each tool returns.
demo: build
	./$(BIN) demo-session

# The official MCP conformance suite (Node 22 + @modelcontextprotocol/conformance,
# installed into .cache/conformance on first use) against `dune-mcp --demo --transport http`.
conformance: build
	.ci/conformance ./$(BIN)

# Dune's official TypeScript client (@duneanalytics/client-sdk, from npm,
# installed into .ci/sdk-compat/node_modules) runs its execute/poll/results
# flows unchanged against `dune-mcp emulator`.
sdk-compat: build
	.ci/sdk-compat/run ./$(BIN)

clean:
	rm -f $(BIN)
	rm -rf dist .cache/image .cache/mcpb/stage

# --- evals (evals/README.md): every scenario against the real binary on stdio
# and streamable HTTP; prints the scorecard, writes evals/out/report.json.
# Narrow or detail a run with e.g. EVALS_FLAGS='-run walk -v -dump /tmp/evals'.
EVALS_FLAGS ?=
evals:
	$(GO) run ./evals/cmd/evals $(EVALS_FLAGS)
