// Runs Dune's official TypeScript client (@duneanalytics/client-sdk, pinned in
// package.json) unchanged against a Dune API emulator and checks what it gets.
//
//   DUNE_API_BASE_URL=http://127.0.0.1:PORT DUNE_API_KEY=KEY node compat.mjs
//
// The SDK hard-codes https://api.dune.com/api in Router.url (dist/*/api/router.js),
// so the one thing changed is that method, on the prototype every API class
// shares. Checks run concurrently; the last line is "N passed, N failed" and the
// exit status is 1 when any failed.
import assert from "node:assert/strict";
import log from "loglevel";
import { DuneClient, ExecutionAPI, QueryEngine, QueryParameter } from "@duneanalytics/client-sdk";

const base = process.env.DUNE_API_BASE_URL;
const key = process.env.DUNE_API_KEY;
if (!base || !key) {
  console.error("compat.mjs: set DUNE_API_BASE_URL and DUNE_API_KEY");
  process.exit(2);
}
log.setLevel("silent"); // the SDK logs the failures these checks provoke

const Router = Object.getPrototypeOf(ExecutionAPI.prototype).constructor;
assert.equal(typeof Router.prototype.url, "function", "SDK Router.url not found");
Router.prototype.url = function url(route) {
  return `${base}/api/${this.apiVersion}/${route}`;
};

const client = new DuneClient(key);
const exec = client.exec;
const TERMINAL = ["QUERY_STATE_COMPLETED", "QUERY_STATE_FAILED", "QUERY_STATE_CANCELLED", "QUERY_STATE_EXPIRED"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Demo data of `dune-mcp emulator` (internal/emulator/demo.go).
const TINY = 1005; // 3 rows x 4 columns
const DAILY = 1004; // 1,096 rows
const BROKEN = 1006; // fails: line 1:8: Column 'x' cannot be resolved
const LONG = 1009; // never finishes (times out after 30 minutes)
const BY_CHAIN = 1010; // chain: one year (365 rows) per chain
const TOP_TOKENS = 1011; // chain x period: 15 rows each
const OLD_REPORT = 1013; // EXPIRED; a new execution gives 365 rows
const QUEUED = 1014; // queue positions 3, 2, 1, then 30 rows
const WALLET = 1015; // required wallet
const DEMO_WALLET = "0x1234567890abcdef1234567890abcdef12345678"; // 53 rows

// poll calls getExecutionStatus every 200 ms until a terminal state and
// returns every status seen.
async function poll(id) {
  const seen = [];
  for (;;) {
    const st = await exec.getExecutionStatus(id);
    seen.push(st);
    if (TERMINAL.includes(st.state)) return seen;
    await sleep(200);
  }
}

function rows(res, n) {
  assert.equal(res.state, "QUERY_STATE_COMPLETED");
  assert.equal(res.is_execution_finished, true);
  assert.equal(res.result.rows.length, n, "rows");
  assert.equal(res.result.metadata.row_count, n, "row_count");
}

const checks = {
  async "runQuery: quick query, one page"() {
    const res = await client.runQuery({ queryId: TINY });
    rows(res, 3);
    assert.equal(res.result.metadata.total_row_count, 3);
    assert.deepEqual(res.result.metadata.column_names, ["rank", "project", "volume_usd", "launched"]);
    assert.equal(res.query_id, TINY);
    assert.equal(res.next_uri, undefined);
  },

  async "runQuery in batches, getLatestResult follows next_uri, getExecutionResults pages"() {
    const first = await client.runQuery({ queryId: DAILY, opts: { batchSize: 400 } });
    rows(first, 400);
    assert.equal(first.result.metadata.total_row_count, 1096);
    assert.ok(first.next_uri.startsWith(`${base}/api/v1/execution/${first.execution_id}/results?`), first.next_uri);
    const all = await client.getLatestResult({ queryId: DAILY, opts: { batchSize: 400 } });
    assert.equal(all.execution_id, first.execution_id, "the latest result is the execution just run");
    rows(all, 1096);
    assert.equal(all.next_uri, undefined);
    const last = await exec.getExecutionResults(first.execution_id, { limit: 400, offset: 800 });
    rows(last, 296);
    assert.deepEqual(last.result.rows[0], all.result.rows[800]);
  },

  async "executeQuery + getExecutionStatus + getExecutionResults: failing query"() {
    const { execution_id: id, state } = await exec.executeQuery(BROKEN);
    assert.equal(state, "QUERY_STATE_PENDING");
    assert.match(id, /^01[0-9A-HJKMNP-TV-Z]{24}$/);
    const st = (await poll(id)).at(-1);
    assert.equal(st.state, "QUERY_STATE_FAILED");
    assert.equal(st.is_execution_finished, true);
    assert.equal(st.error.type, "FAILED_TYPE_EXECUTION_FAILED");
    assert.match(st.error.message, /^line 1:8: Column 'x' cannot be resolved/);
    assert.ok(st.error.message.endsWith(`[Execution ID: ${id}]`), st.error.message);
    assert.deepEqual(st.error.metadata, { line: 1, column: 8 });
    assert.equal(st.execution_cost_credits, 10);
    assert.equal(st.result_metadata, undefined);
    const res = await exec.getExecutionResults(id);
    assert.equal(res.state, "QUERY_STATE_FAILED");
    assert.equal(res.result, undefined);
    assert.match(res.error.message, /Column 'x' cannot be resolved/);
    await assert.rejects(client.runQuery({ queryId: BROKEN }), /incomplete terminal state.*QUERY_STATE_FAILED/);
  },

  async "runQuery with parameters; getLatestResult selects by them"() {
    const other = "0x00000000000000000000000000000000000000aa";
    const run = (queryId, ...query_parameters) => client.runQuery({ queryId, query_parameters });
    const [base, sol, tokens, wallet, otherWallet] = await Promise.all([
      run(BY_CHAIN, QueryParameter.text("chain", "base")),
      run(BY_CHAIN, QueryParameter.text("chain", "solana")),
      run(TOP_TOKENS, QueryParameter.enum("chain", "arbitrum"), QueryParameter.text("period", "7d")),
      run(WALLET, QueryParameter.text("wallet", DEMO_WALLET)),
      run(WALLET, QueryParameter.text("wallet", other)),
    ]);
    rows(base, 365);
    rows(sol, 365);
    assert.notDeepEqual(sol.result.rows.slice(0, 5), base.result.rows.slice(0, 5), "another chain, other rows");
    const latestBase = await client.getLatestResult({ queryId: BY_CHAIN, query_parameters: [QueryParameter.text("chain", "base")] });
    assert.equal(latestBase.execution_id, base.execution_id);
    rows(latestBase, 365);
    rows(tokens, 15);
    rows(wallet, 53);
    assert.ok(wallet.result.rows.every((r) => r.taker === DEMO_WALLET));
    const n = otherWallet.result.rows.length;
    assert.ok(n >= 20 && n <= 119, `${n} rows`);
    assert.ok(otherWallet.result.rows.every((r) => r.taker === other));
  },

  async "execute errors: required and unknown parameters, unknown query, bad key, bad id"() {
    await assert.rejects(exec.executeQuery(WALLET), /Status: 400.*missing required parameters \(no default value\): wallet/);
    await assert.rejects(
      exec.executeQuery(BY_CHAIN, { query_parameters: [QueryParameter.text("nope", "1")] }),
      /Status: 400, Message: \{"error":"unknown parameters \(Invalid Parameter\)"\}/,
    );
    await assert.rejects(exec.executeQuery(999999999), /Status: 404, Message: \{"error":"Query not found"\}/);
    await assert.rejects(new DuneClient("wrong-key").exec.executeQuery(TINY), /Status: 401, Message: \{"error":"invalid API Key"\}/);
    await assert.rejects(
      exec.getExecutionStatus("Wonky Job ID"),
      /Status: 400, Message: \{"error":"The requested execution ID \(ID: Wonky Job ID\) is invalid."\}/,
    );
    await assert.rejects(exec.cancelExecution("Wonky Job ID"), /Status: 400/);
  },

  async "performance large costs 20 credits"() {
    const { execution_id: id } = await exec.executeQuery(TINY, { performance: QueryEngine.Large });
    const st = (await poll(id)).at(-1);
    assert.equal(st.state, "QUERY_STATE_COMPLETED");
    assert.equal(st.execution_cost_credits, 20);
    assert.equal(st.result_metadata.total_row_count, 3);
    assert.deepEqual(st.result_metadata.column_types, ["bigint", "varchar", "double", "date"]);
  },

  async "cancelExecution"() {
    const { execution_id: id } = await exec.executeQuery(LONG);
    assert.equal(await exec.cancelExecution(id), true);
    const st = await exec.getExecutionStatus(id);
    assert.equal(st.state, "QUERY_STATE_CANCELLED");
    assert.equal(st.is_execution_finished, true);
    assert.ok(st.cancelled_at);
    assert.equal(await exec.cancelExecution(id), false, "cancelling a finished execution");
    const res = await exec.getExecutionResults(id);
    assert.equal(res.state, "QUERY_STATE_CANCELLED");
    assert.equal(res.result, undefined);
  },

  async "queued query: queue positions count down, then it completes"() {
    const { execution_id: id } = await exec.executeQuery(QUEUED);
    const seen = await poll(id);
    const positions = seen.filter((s) => s.state === "QUERY_STATE_PENDING").map((s) => s.queue_position);
    assert.equal(positions[0], 3, `positions ${positions}`);
    assert.ok(positions.includes(1), `positions ${positions}`);
    assert.deepEqual([...positions].sort().reverse(), positions, "positions never go up");
    assert.ok(seen.some((s) => s.state === "QUERY_STATE_EXECUTING"));
    assert.equal(seen.at(-1).state, "QUERY_STATE_COMPLETED");
    rows(await exec.getExecutionResults(id), 30);
  },

  // runQueryCSV reads the query's latest result, so it runs a query no
  // other check executes.
  async "runQueryCSV on an expired report"() {
    const csv = await client.runQueryCSV({ queryId: OLD_REPORT });
    const lines = csv.data.trimEnd().split("\n");
    assert.equal(lines.length, 1 + 365);
    assert.equal(lines[0], "day,volume_usd,trades,active_traders,avg_trade_usd,fees_usd");
  },
};

const started = Date.now();
const results = await Promise.all(
  Object.entries(checks).map(async ([name, fn]) => {
    const t = Date.now();
    try {
      await Promise.race([fn(), sleep(60_000).then(() => Promise.reject(new Error("timed out after 60 s")))]);
      console.log(`ok   ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      return true;
    } catch (err) {
      console.log(`FAIL ${name}: ${err?.stack ?? err}`);
      return false;
    }
  }),
);
const passed = results.filter(Boolean).length;
console.log(`sdk-compat (@duneanalytics/client-sdk) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
