// Package emulator is a faithful emulator of Dune Analytics' results API,
// with deterministic datasets to serve. It backs --demo, `dune-mcp emulator`,
// the tests and the evals.
//
//	s := emulator.NewServer(emulator.WithDemoData())
//	defer s.Close()
//	// point a client at s.URL (it appends /api/v1/...) with key emulator.DefaultAPIKey
//	eid := s.AddQuery(42, emulator.DEXTrades(100000, 1))
//	s.InjectFault(emulator.Fault{Status: 429, RetryAfter: time.Second})
//
// # Endpoints
//
// GET /api/v1/query/{query_id}/results, /api/v1/execution/{execution_id}/results
// and their /csv variants, with every parameter of Dune's results API reference:
// limit (silently capped at WithMaxPageSize, default 30,000; missing or 0
// means the cap), offset (past the end: an empty 200), columns (order kept,
// optional double quotes stripped), filters and sort_by (package
// emulator/filter), sample_count (per-row Bernoulli with p = sample_count /
// total rows, seeded by WithSeed; every row when sample_count >= total),
// allow_partial_results, ignore_max_credits_per_request and the legacy
// ignore_max_datapoints_per_request, params.<name> (query endpoints only);
// queryID is ignored. Auth is the X-Dune-Api-Key header or the api_key
// parameter.
//
// JSON bodies follow Dune's presence rules: execution_id, query_id, state,
// is_execution_finished, submitted_at and expires_at always;
// execution_started_at / execution_ended_at when known; cancelled_at iff
// CANCELLED; error for FAILED; result only for COMPLETED (and
// COMPLETED_PARTIAL with allow_partial_results=true), with row objects whose
// keys are sorted alphabetically, row_count == len(rows), datapoint_count =
// rows x columns and total_row_count counting the rows that match filters;
// next_offset and next_uri only when more rows exist. next_uri is absolute,
// rooted at the scheme and Host of the request, on
// /api/v1/execution/{id}/results[/csv], and carries columns, filters,
// sort_by, allow_partial_results, a true ignore_max_* flag, limit (the
// effective one) and the new offset, encoded by url.Values.Encode; never
// api_key. CSV pages repeat the header row, use RFC 4180 quoting, LF line
// endings, an empty field for NULL, and the X-Dune-Next-Offset /
// X-Dune-Next-Uri headers.
//
// # Choices where Dune is undocumented
//
//   - unknown query or non-numeric query id: 404 {"error":"Query not found"};
//     a malformed execution id: 400 "The requested execution ID (ID: …) is
//     invalid."; a well-formed unknown ULID: 404 {"error":"Object not found"};
//   - /query/{id}/results serves the latest execution whatever its state;
//     params.<name> selects the latest execution whose parameters match all
//     given pairs, 404 when none did or a name is not a parameter of the query;
//   - COMPLETED_PARTIAL without allow_partial_results=true: 400 with Dune's
//     text (MsgPartialResult, typo included);
//   - bad limit/offset/sample_count/columns/booleans, filters or sort_by
//     errors (the parser's message, naming the position) and sample_count
//     combined with limit, offset or filters: 400;
//   - PENDING and EXECUTING: expires_at "1970-01-01T00:00:00Z" (legacy docs);
//   - CSV of an execution without a result (pending, failed, ...): 400;
//   - sorting is stable, NULLS LAST in both directions;
//   - result_set_bytes counts one header line of names plus each cell's text.
//
// ListenAndServe and (*Server).Serve run the emulator standalone; Describe
// lists the demo queries.
package emulator
