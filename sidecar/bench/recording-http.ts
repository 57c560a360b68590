// What recording costs an HTTP request, in process.
//
//   npx tsx sidecar/bench/recording-http.ts
//
// Subject: HttpRecorder.record (group lookup, the request's redaction: field masks and every detector over
// every string, secret scrub, canonical JSON, SHA-256, a synchronous write) plus HttpRecorder.done (the
// response record), into a temporary directory, for a GET without a body and a POST with a 1 KiB JSON
// body. Baseline in the same run: the canonical JSON + SHA-256 of the same event's input alone.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { DecisionEvent, PolicyInput } from "../src/decision/index.js";
import { canonicalJson, HttpRecorder, Recorder } from "../src/recording/index.js";
import { createHash } from "node:crypto";

const dir = mkdtempSync(join(tmpdir(), "regate-bench-rec-"));
const rec = new Recorder({ dir, log: pino({ level: "silent" }), version: "bench", secrets: ["agent-token-0123456789abcdef", "upstream-secret-0123456789"], checkpointRecords: 100 });
const http = new HttpRecorder(rec, 3600);

const body = { customer: { name: "Alice Smith", email: "alice@example.com", note: "call after 5pm".repeat(4) }, items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, price: 9.99 + i, label: "a plain product label" })) };
function event(method: string, withBody: boolean, i: number): DecisionEvent {
  const input = {
    version: 1,
    kind: "http",
    session: { id: `req-${i}`, principal: { subject: "agent", groups: ["g"], claims: {}, auth_method: "token" }, client: { address: "127.0.0.1", port: 40000 }, target: "api", started_at: "" },
    http: { method, request_method: method, path: "/orders/42", parsed_path: ["orders", "42"], query: "expand=items", parsed_query: { expand: ["items"] }, headers: { "content-type": "application/json", accept: "*/*" }, route: { name: "api", prefix: "/api" }, ...(withBody ? { parsed_body: body, body_size: 1024 } : { body_size: 0 }) },
  } as unknown as PolicyInput;
  return {
    decision: { decision_id: `d-${i}`, outcome: "allow", reasons: [], mask: [{ field: "email", strategy: "partial" }, { field: "ssn", strategy: "redact" }], dry_run: false, revision: "r" },
    path: "regate/decision",
    input,
    result: {},
    erased: [],
    masked: [],
    metrics: { timer_rego_query_eval_ns: 0, timer_regate_decision_ns: 0 },
    timestamp: "",
  };
}

function run(label: string, method: string, withBody: boolean): void {
  const n = 20_000;
  const events = Array.from({ length: n }, (_, i) => event(method, withBody, i));
  let t = process.hrtime.bigint();
  for (const e of events) createHash("sha256").update(canonicalJson(e.input)).digest("hex");
  const base = Number(process.hrtime.bigint() - t) / n / 1000;
  t = process.hrtime.bigint();
  for (const e of events) {
    http.record(e);
    http.done({ request_id: e.input.session.id, route: "api", method, status: 200, outcome: "allow", decision_id: e.decision.decision_id, masked: true, error_code: undefined, duration_ms: 1, bytes: 300, aborted: false, lock_id: undefined });
  }
  const recorded = Number(process.hrtime.bigint() - t) / n / 1000;
  console.log(`${label.padEnd(22)} recorded ${recorded.toFixed(1)} us/request (2 records)  input hash alone ${base.toFixed(1)} us  ratio ${(recorded / base).toFixed(1)}x`);
}

run("GET, no body", "GET", false);
run("POST, 1 KiB JSON body", "POST", true);
console.log(`records ${rec.written.records}, bytes ${rec.written.bytes}, checkpoints ${rec.written.checkpoints}`);
http.close();
rec.close();
rmSync(dir, { recursive: true, force: true });
