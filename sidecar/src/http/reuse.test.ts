import { describe, expect, it } from "vitest";
import type { Decision, PolicyInput } from "../decision/types.js";
import { HttpDecisionReuse } from "./reuse.js";

const input = (over: { id?: string; port?: number; now?: string; address?: string; header?: string; path?: string; subject?: string } = {}): PolicyInput =>
  ({
    version: 1,
    kind: "http",
    time: { now_ns: 1, rfc3339: over.now ?? "2026-01-15T14:30:00.000Z", weekday: 4, hour: 14 },
    session: {
      id: over.id ?? "req-1",
      principal: { subject: over.subject ?? "agent", groups: ["agents"], claims: {}, auth_method: "bearer" },
      client: { address: over.address ?? "127.0.0.1", port: over.port ?? 40000 },
      target: "crm",
      started_at: over.now ?? "2026-01-15T14:30:00.000Z",
    },
    http: { method: "GET", path: over.path ?? "/customers/42", headers: { accept: over.header ?? "application/json" } },
  }) as unknown as PolicyInput;

const reusable = (over: Partial<Decision> = {}): Decision => ({
  decision_id: "d1",
  outcome: "allow",
  reasons: [],
  mask: [{ field: "email", strategy: "partial" }],
  dry_run: false,
  revision: "r1",
  cache: { ttl_seconds: 60, across: ["time", "request"] },
  ...over,
});

describe("HttpDecisionReuse", () => {
  it("computes no key while nothing is kept", () => {
    const r = new HttpDecisionReuse();
    expect(r.lookup(input())).toEqual({ key: undefined, prior: undefined });
  });

  it("finds a kept decision for the same request at another time, from another request id and client port", () => {
    const r = new HttpDecisionReuse();
    const d = reusable();
    r.keep(input(), undefined, d, 0);
    expect(r.lookup(input({ id: "req-2", port: 40001, now: "2026-01-15T14:31:00.000Z" }), 1000).prior).toBe(d);
  });

  // Everything else in the input is part of the key.
  it.each([
    ["another header value", { header: "text/html" }],
    ["another path", { path: "/customers/43" }],
    ["another agent", { subject: "other" }],
    ["another client address", { address: "10.0.0.9" }],
  ])("misses for %s", (_what, over) => {
    const r = new HttpDecisionReuse();
    r.keep(input(), undefined, reusable(), 0);
    const found = r.lookup(input(over), 1000);
    expect(found.prior).toBeUndefined();
    expect(found.key).toBeDefined();
  });

  it.each([
    ["no cache directive", { cache: undefined }],
    ["a directive without request", { cache: { ttl_seconds: 60, across: ["time"] } }],
    ["a directive without time", { cache: { ttl_seconds: 60, across: ["request"] } }],
    ["a fail-closed error", { outcome: "deny", error_code: "POLICY_EVAL_FAILED" }],
    ["a dry run", { dry_run: true }],
    ["a reuse", { reused_from: "d0" }],
    ["an approval", { outcome: "approve" }],
  ] as [string, Partial<Decision>][])("never keeps %s", (_what, over) => {
    const r = new HttpDecisionReuse();
    r.keep(input(), undefined, reusable(over), 0);
    expect(r.size).toBe(0);
  });

  it("keeps a deny the policy marked reusable", () => {
    const r = new HttpDecisionReuse();
    const d = reusable({ outcome: "deny", reasons: ["no"] });
    r.keep(input(), undefined, d, 0);
    expect(r.lookup(input({ id: "req-2" }), 1).prior).toBe(d);
  });

  it("forgets a decision after its ttl", () => {
    const r = new HttpDecisionReuse();
    r.keep(input(), undefined, reusable({ cache: { ttl_seconds: 2, across: ["time", "request"] } }), 0);
    expect(r.lookup(input(), 1999).prior).toBeDefined();
    expect(r.lookup(input(), 2000).prior).toBeUndefined();
    expect(r.size).toBe(0);
  });

  it("drops the entry when a new evaluation of the same input is not reusable (a new bundle without the directive)", () => {
    const r = new HttpDecisionReuse();
    r.keep(input(), undefined, reusable(), 0);
    const found = r.lookup(input(), 1);
    r.keep(input(), found.key, reusable({ decision_id: "d2", revision: "r2", cache: undefined }), 1);
    expect(r.size).toBe(0);
  });

  it("replaces the entry with a new evaluation, and a reuse leaves it as it is", () => {
    const r = new HttpDecisionReuse();
    r.keep(input(), undefined, reusable(), 0);
    const fresh = reusable({ decision_id: "d2", revision: "r2" });
    r.keep(input(), r.lookup(input(), 1).key, fresh, 1);
    r.keep(input(), r.lookup(input(), 2).key, { ...fresh, decision_id: "d3", reused_from: "d2" }, 2);
    expect(r.lookup(input(), 3).prior).toBe(fresh);
  });

  it("holds at most 1024 inputs, dropping the oldest", () => {
    const r = new HttpDecisionReuse();
    for (let i = 0; i < 1030; i++) r.keep(input({ path: `/c/${i}` }), undefined, reusable(), 0);
    expect(r.size).toBe(1024);
    expect(r.lookup(input({ path: "/c/0" }), 1).prior).toBeUndefined();
    expect(r.lookup(input({ path: "/c/1029" }), 1).prior).toBeDefined();
  });
});
