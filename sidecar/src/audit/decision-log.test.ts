import { describe, expect, it } from "vitest";
import type { DecisionEvent } from "../decision/index.js";
import { createLogger } from "../log.js";
import { DecisionLog } from "./decision-log.js";

function setup(secrets: string[]) {
  const written: string[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => void written.push(s) } });
  const sink = new DecisionLog(log.child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate" }, secrets });
  return { sink, text: () => written.join("") };
}

function event(sql: string, i: number): DecisionEvent {
  const input = { version: 1, kind: "postgres", postgres: { statements: [{ sql }] } };
  return {
    decision: { decision_id: `d-${i}`, outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "r" },
    path: "regate/decision",
    input: input as never,
    input_json: JSON.stringify(input),
    result: { allow: true },
    erased: [],
    masked: [],
    metrics: { timer_rego_query_eval_ns: 1, timer_regate_decision_ns: 2 },
    timestamp: "2026-11-30T00:00:00.000Z",
  };
}

describe("DecisionLog secrets", () => {
  const password = 'pa"ss\\word-0123';
  const token = "agent-token-5c1e";
  const b64 = (t: string) => Buffer.from(t).toString("base64").replace(/=+$/, "");
  // What an agent may type; the line holds the password JSON-escaped, the rest as typed.
  const typed = [password, b64(password), token, b64(token)];
  const forms = [password, JSON.stringify(password).slice(1, -1), b64(password), token, b64(token)];

  it.each(typed.map((t, i) => [i, t]))("replaces typed secret %i wherever a line of the batch holds it", (_i, secret) => {
    const { sink, text } = setup([password, token]);
    sink.record(event("SELECT 1", 0));
    sink.record(event(`SELECT '${secret}' || '${secret}'`, 1));
    sink.record(event("SELECT 2", 2));
    sink.flush();
    const out = text();
    expect(out.split("\n").filter(Boolean)).toHaveLength(3);
    for (const f of forms) expect(out).not.toContain(f);
    expect(out).toContain("[REDACTED]' || '[REDACTED]");
  });

  it("leaves a batch without secrets as it was built", () => {
    const { sink, text } = setup([password, token]);
    for (let i = 0; i < 3; i++) sink.record(event(`SELECT ${i} -- agent-token-5c1 pa"ss`, i));
    sink.flush();
    expect(text()).not.toContain("[REDACTED]");
    expect(text().split("\n").filter(Boolean).map((l) => JSON.parse(l).input.postgres.statements[0].sql)).toEqual([0, 1, 2].map((i) => `SELECT ${i} -- agent-token-5c1 pa"ss`));
  });

  it("writes a batch's lines in order, in one write", () => {
    const writes: string[] = [];
    const log = createLogger({ level: "info", destination: { write: (s: string) => void writes.push(s) } });
    const sink = new DecisionLog(log.child({}, { redact: { paths: [] } }), { bundleName: "regate", labels: { app: "regate" }, secrets: [password, token] });
    for (let i = 0; i < 3; i++) sink.record(event(`SELECT ${i}`, i));
    sink.flush();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split("\n").filter(Boolean).map((l) => JSON.parse(l).decision_id)).toEqual(["d-0", "d-1", "d-2"]);
  });
});
