// Package emulator is a faithful emulator of Dune Analytics' results and
// execution API,
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
// # Executions
//
// POST /api/v1/query/{query_id}/execute starts an execution: a JSON body
// {"query_parameters": {...}, "performance": "medium"|"large"}, both
// optional (also read from the query string, query_parameters as a JSON
// object, when the body lacks them), answered with
// {"execution_id":"<ULID>","state":"QUERY_STATE_PENDING"}. The execution is
// the query's latest at once. GET /api/v1/execution/{execution_id}/status
// answers for every execution (AddExecution's too) with the head fields of
// the results endpoints plus queue_position while PENDING, result_metadata
// (the whole result's metadata) when COMPLETED or COMPLETED_PARTIAL, and
// execution_cost_credits once finished. POST
// /api/v1/execution/{execution_id}/cancel answers {"success":true} and
// cancels an unfinished execution (cancelled_at set; execution_started_at
// and execution_ended_at only if it had started), {"success":false} for a
// finished one. The results endpoints serve these executions like the
// others: in band while PENDING, EXECUTING, FAILED or CANCELLED, rows once
// COMPLETED. Stats.ByEndpoint counts them as EndpointExecute,
// EndpointStatus and EndpointCancel, and Fault.Path can name these.
//
// Executions unfold on the emulator's clock (WithClock; time.Now by
// default) following their query's Profile (SetProfile; DefaultProfile:
// 1 s queued, 2 s executing, COMPLETED): PENDING for Queue with
// queue_position counting down from QueuePositions to 1, EXECUTING for
// Run, then the Outcome: COMPLETED, COMPLETED_PARTIAL, FAILED with
// Profile.Error, or a run that reaches ExecutionTimeout (30 minutes, Dune's
// limit) and fails with MsgExecutionTimeout. A completed result EXPIRES 90
// days after it ended. Each execution costs CreditsMedium (10; performance
// medium or omitted) or CreditsLarge (20), failed and cancelled ones too,
// counted in Stats.Credits when submitted; executions registered with
// AddExecution report 10.
//
// Parameters: a query's parameters are those declared with SetParams
// (defaults fill in omitted ones; Required ones must be given), else the
// names its registered executions carry. A name the query lacks is refused
// with Dune's MsgUnknownParams. Values may be strings, numbers, booleans or
// lists of them (joined with commas). Executions remember their values, so
// params.<name> on /query/{id}/results selects among them. The rows come
// from Profile.Dataset(values), else from the registered execution with the
// same values, else from a variant of the query's latest registered result
// derived from a hash of the query id and values: different values give
// different rows, the same values the same rows. The demo queries have
// profiles: 1006 fails with its SQL error, 1007 ends COMPLETED_PARTIAL,
// 1009 never finishes (fails at the 30-minute timeout), 1014 waits at queue
// positions 3, 2, 1 for 3 s, 1010, 1011 and 1015 (required wallet) serve
// per-parameter datasets; the others complete in about 3 s with their rows.
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
//   - result_set_bytes counts one header line of names plus each cell's text;
//   - execute: a required parameter without a value: 400 "missing required
//     parameters (no default value): a, b"; performance other than medium
//     or large: 400; an invalid body or query_parameters: 400; a query is
//     executable when it has an execution, a profile or declared parameters
//     (otherwise 404 "Query not found");
//   - the timeout error: type FAILED_TYPE_EXECUTION_FAILED, no line/column,
//     MsgExecutionTimeout; every failure message ends with " [Execution ID:
//     <id>]" as Dune's do;
//   - cancel of a finished execution: 200 {"success":false}; credits are
//     charged at submission, so cancelled executions cost their tier too;
//   - status: queue_position 1 for an AddExecution PENDING execution;
//     result_metadata also for COMPLETED_PARTIAL; malformed and unknown ids
//     as on the results endpoints; wrong methods: 405 with Allow.
//
// ListenAndServe and (*Server).Serve run the emulator standalone; Describe
// lists the demo queries. .ci/sdk-compat runs Dune's TypeScript client
// against `dune-mcp emulator`.
package emulator
