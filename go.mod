module github.com/dune-mcp/dune-mcp

go 1.26.0

require (
	github.com/invopop/jsonschema v0.14.0 // tool input/output schemas generated from the Go parameter structs
	github.com/mark3labs/mcp-go v1.2.1 // MCP server (stdio, streamable HTTP, SSE) and the clients used by e2e tests and evals
	github.com/oklog/ulid/v2 v2.1.2 // real ULID execution ids in the emulator; compact ULID encoding in cursors
	github.com/prometheus/client_golang v1.25.0 // the --metrics-addr endpoint: Prometheus' own Go client (registry, histograms, text format, process collector)
	github.com/prometheus/client_model v0.6.3 // test only: reading gathered metrics back in assertions (already required by client_golang)
	github.com/redis/go-redis/v9 v9.23.0 // --redis-url: the most used Redis client for Go, kept by Redis; speaks RESP2/3 to Redis 7 and Valkey 8 alike (SET NX GET, Lua), pooled, TLS for rediss://; the page cache tier, query runs and rate-limit buckets (Lua) shared by replicas
	github.com/rs/zerolog v1.35.1 // structured logging to stderr
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.2 // packaging/registry: validates server.json against the MCP registry's JSON Schema (already in the graph through mcp-go)
	github.com/tiktoken-go/tokenizer v0.10.0 // o200k_base token counting with the vocabulary embedded (no download at run time)
	go.yaml.in/yaml/v3 v3.0.6 // eval scenarios are YAML files (maintained successor of gopkg.in/yaml.v3)
	golang.org/x/sync v0.24.0 // semaphore.Weighted: the FIFO, context-aware budget of upstream bytes in flight (--max-upstream-memory); JSON decoding needs no dependency (a hand-tuned scanner beat encoding/json 2-4× in BenchmarkDecodeDEXPage30000)
	modernc.org/sqlite v1.62.0 // test only: pure-Go SQLite (no cgo) as an independent oracle for the emulator's filters and sort_by
)

require (
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dlclark/regexp2/v2 v2.5.1 // test only: the regular-expression engine tiktoken-go splits o200k text with, as the oracle of tools/summary/split.go (already required by tiktoken-go)
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/jsonschema-go v0.4.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/pb33f/ordered-map/v2 v2.3.1 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/spf13/cast v1.7.1 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
