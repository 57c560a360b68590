// Decision reuse on the HTTP path (docs/policy.md, "Decision reuse"): the example policy declares its HTTP
// decisions reusable across time and the request's own identity. Through the real pipeline, bundle and
// decision log: an identical request reuses the evaluated decision (and is logged as a decision of its own),
// the response is masked exactly as before, a deny stays a deny, and any difference the policy can see
// (path, header, body) is evaluated afresh.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionLog } from "../../src/audit/index.js";
import { DecisionPipeline } from "../../src/decision/index.js";
import { PolicyStore } from "../../src/policy/index.js";
import { BUNDLE } from "../support/regate.js";
import { authed, CUSTOMER, memoryLogger, startGateway, startUpstream, type GatewayUnderTest, type Upstream } from "./fixtures.js";

let logSink: DecisionLog;
/** The decision-log lines written so far: the sink batches them, so its pending ones are written first. */
const loggedLines = (): string[] => {
  logSink.flush();
  return decisionLog.lines;
};
let upstream: Upstream;
let gw: GatewayUnderTest;
let evaluations = 0;
const decisionLog = memoryLogger();

beforeAll(async () => {
  const store = new PolicyStore(BUNDLE);
  await store.load();
  upstream = await startUpstream();
  // Counts evaluations of the decision entrypoint: a reuse makes none. One counting policy per loaded one:
  // a decision is reused only under the policy object that made it.
  const counting = new WeakMap<object, NonNullable<typeof store.active>>();
  const decider = new DecisionPipeline({
    policy: () => {
      const active = store.active;
      if (!active) return undefined;
      let c = counting.get(active);
      if (!c) {
        c = { ...active, evaluate: (entrypoint, input) => (entrypoint === "regate/decision" && evaluations++, active.evaluate(entrypoint, input)) };
        counting.set(active, c);
      }
      return c;
    },
    entrypoint: "regate/decision",
    dryRun: false,
    sinks: [(logSink = new DecisionLog(decisionLog.logger, { bundleName: "regate", labels: { app: "regate" } }))],
    logMask: true,
  });
  gw = await startGateway({ routes: [{ name: "crm", prefix: "/crm", upstream: `${upstream.url}/api` }], decider });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

interface Logged {
  decision_id: string;
  reused_from?: string;
  result: { allow: boolean; deny: string[] };
  input: { http: { path: string; method: string } };
}

function decisionsSince(from: number): Logged[] {
  return loggedLines().slice(from).map((l) => JSON.parse(l) as Logged);
}

async function get(path: string, headers: Record<string, string> = {}, method = "GET", body?: string) {
  const res = await fetch(`${gw.url}${path}`, { method, headers: authed(headers), ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: await res.text() };
}

describe("HTTP decision reuse with the example policy", () => {
  it("an identical GET reuses the evaluated decision, is logged with reused_from, and is masked the same", async () => {
    const from = loggedLines().length;
    const before = evaluations;
    const first = await get("/crm/customers/1");
    const second = await get("/crm/customers/1");
    const third = await get("/crm/customers/1");
    expect(evaluations - before).toBe(1);
    for (const r of [first, second, third]) {
      expect(r.status).toBe(200);
      const doc = JSON.parse(r.body) as typeof CUSTOMER;
      expect(doc.email).toBe("***@example.com");
      expect(doc.ssn).toBe("****");
      expect(doc.name).toBe(CUSTOMER.name);
    }
    const logged = decisionsSince(from);
    expect(logged).toHaveLength(3);
    expect(logged[0]!.reused_from).toBeUndefined();
    expect(logged[1]!.reused_from).toBe(logged[0]!.decision_id);
    expect(logged[2]!.reused_from).toBe(logged[0]!.decision_id);
    expect(new Set(logged.map((l) => l.decision_id)).size).toBe(3);
    // Each reuse logs the input of its own request.
    expect(logged[2]!.input.http.path).toBe("/customers/1");
    // The request lines name each decision.
    const ids = gw.lines
      .filter((l) => l.includes('"msg":"http request"'))
      .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id)
      .slice(-3);
    expect(ids).toEqual(logged.map((l) => l.decision_id));
  });

  it("a reused deny is still refused and never reaches the upstream", async () => {
    const from = loggedLines().length;
    const sent = upstream.requests.length;
    const before = evaluations;
    const a = await get("/crm/orders/7", {}, "DELETE");
    const b = await get("/crm/orders/7", {}, "DELETE");
    expect([a.status, b.status]).toEqual([403, 403]);
    expect(JSON.parse(b.body)).toMatchObject({ error: "denied", code: "POLICY_DENIED" });
    expect(upstream.requests.length).toBe(sent);
    expect(evaluations - before).toBe(1);
    const logged = decisionsSince(from);
    expect(logged.map((l) => l.result.allow)).toEqual([false, false]);
    expect(logged[1]!.reused_from).toBe(logged[0]!.decision_id);
  });

  it.each([
    ["another path", "/crm/customers/2", {}, "GET", undefined],
    ["another header", "/crm/customers/1", { "x-tenant": "b" }, "GET", undefined],
    ["a method override the upstream would honour", "/crm/customers/1", { "x-http-method-override": "DELETE" }, "POST", undefined],
    ["another body", "/crm/notes", { "content-type": "application/json" }, "POST", '{"n":2}'],
  ])("%s is evaluated afresh", async (_what, path, headers, method, body) => {
    // The reference request first, then the one that differs in one thing the policy sees.
    await get("/crm/customers/1");
    if (body !== undefined) await get(path, headers, method, '{"n":1}');
    const before = evaluations;
    const from = loggedLines().length;
    await get(path, headers, method, body);
    expect(evaluations - before).toBeGreaterThanOrEqual(1);
    expect(decisionsSince(from).every((l) => l.reused_from === undefined)).toBe(true);
  });
});
