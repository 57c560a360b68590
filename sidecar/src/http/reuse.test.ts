import { describe, expect, it } from "vitest";
import type { Decision, PolicyInput } from "../decision/types.js";
import { HttpDecisionReuse, MAX_KEY_CHARS, serialiseInput } from "./reuse.js";

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

const key = (over: Parameters<typeof input>[0] = {}): string => serialiseInput(input(over)).key;

describe("serialiseInput", () => {
  it("gives the input as JSON.stringify does, with undefined members left out as it leaves them out", () => {
    const i = input() as unknown as Record<string, unknown>;
    i["extra"] = undefined;
    (i["http"] as Record<string, unknown>)["body"] = undefined;
    expect(JSON.parse(serialiseInput(i as unknown as PolicyInput).json)).toEqual(JSON.parse(JSON.stringify(i)));
  });

  it.each([
    ["no session", { version: 1, kind: "http", time: { hour: 1 } }],
    ["no time", { version: 1, kind: "http", session: { id: "x", client: { address: "a", port: 1 } } }],
    ["an empty input", {}],
    ["a session of varying parts only", { session: { id: "x", started_at: "t" } }],
    ["a session without client", { kind: "http", session: { id: "x", principal: { subject: "s" } } }],
  ])("is valid JSON equal to the input for %s", (_what, i) => {
    expect(JSON.parse(serialiseInput(i as unknown as PolicyInput).json)).toEqual(i);
  });

  it("keys ignore the clock, the request id and start, and the client port, and nothing else", () => {
    expect(key({ id: "req-2", port: 40001, now: "2026-01-15T15:00:00.000Z" })).toBe(key());
    for (const over of [{ header: "text/html" }, { path: "/customers/43" }, { subject: "other" }, { address: "10.0.0.9" }]) expect(key(over)).not.toBe(key());
  });

  it("a member added to the input is part of the key", () => {
    const i = input() as unknown as Record<string, unknown>;
    const j = { ...i, budget: { spent: 1 } } as unknown as PolicyInput;
    const k = { ...i, session: { ...(i["session"] as object), tenant: "b" } } as unknown as PolicyInput;
    expect(serialiseInput(j).key).not.toBe(key());
    expect(serialiseInput(k).key).not.toBe(key());
  });
});

describe("HttpDecisionReuse", () => {
  it("finds nothing while nothing is kept", () => {
    expect(new HttpDecisionReuse().lookup(key())).toBeUndefined();
  });

  it("finds a kept decision for the same request at another time, from another request id and client port", () => {
    const r = new HttpDecisionReuse();
    const d = reusable();
    r.keep(key(), d, 0);
    expect(r.lookup(key({ id: "req-2", port: 40001, now: "2026-01-15T14:31:00.000Z" }), 1000)).toBe(d);
  });

  // Everything else in the input is part of the key.
  it.each([
    ["another header value", { header: "text/html" }],
    ["another path", { path: "/customers/43" }],
    ["another agent", { subject: "other" }],
    ["another client address", { address: "10.0.0.9" }],
  ])("misses for %s", (_what, over) => {
    const r = new HttpDecisionReuse();
    r.keep(key(), reusable(), 0);
    expect(r.lookup(key(over), 1000)).toBeUndefined();
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
    r.keep(key(), reusable(over), 0);
    expect(r.size).toBe(0);
  });

  it("never keeps a decision for an input whose key is past MAX_KEY_CHARS (a large body), so the cache stays bounded", () => {
    const r = new HttpDecisionReuse();
    const big = key({ header: "x".repeat(MAX_KEY_CHARS) });
    r.keep(big, reusable(), 0);
    expect(r.size).toBe(0);
    expect(r.lookup(big, 1)).toBeUndefined();
    r.keep(key(), reusable(), 0);
    expect(r.size).toBe(1);
  });

  it("keeps a deny the policy marked reusable", () => {
    const r = new HttpDecisionReuse();
    const d = reusable({ outcome: "deny", reasons: ["no"] });
    r.keep(key(), d, 0);
    expect(r.lookup(key({ id: "req-2" }), 1)).toBe(d);
  });

  it("forgets a decision after its ttl", () => {
    const r = new HttpDecisionReuse();
    r.keep(key(), reusable({ cache: { ttl_seconds: 2, across: ["time", "request"] } }), 0);
    expect(r.lookup(key(), 1999)).toBeDefined();
    expect(r.lookup(key(), 2000)).toBeUndefined();
    expect(r.size).toBe(0);
  });

  it("drops the entry when a new evaluation of the same input is not reusable (a new bundle without the directive)", () => {
    const r = new HttpDecisionReuse();
    r.keep(key(), reusable(), 0);
    r.keep(key(), reusable({ decision_id: "d2", revision: "r2", cache: undefined }), 1);
    expect(r.size).toBe(0);
  });

  it("replaces the entry with a new evaluation, and a reuse leaves it as it is", () => {
    const r = new HttpDecisionReuse();
    r.keep(key(), reusable(), 0);
    const fresh = reusable({ decision_id: "d2", revision: "r2" });
    r.keep(key(), fresh, 1);
    r.keep(key(), { ...fresh, decision_id: "d3", reused_from: "d2" }, 2);
    expect(r.lookup(key(), 3)).toBe(fresh);
  });

  it("holds at most 1024 inputs, dropping the oldest", () => {
    const r = new HttpDecisionReuse();
    for (let i = 0; i < 1030; i++) r.keep(key({ path: `/c/${i}` }), reusable(), 0);
    expect(r.size).toBe(1024);
    expect(r.lookup(key({ path: "/c/0" }), 1)).toBeUndefined();
    expect(r.lookup(key({ path: "/c/1029" }), 1)).toBeDefined();
  });
});

describe("serialiseInput on the HTTP adapter's inputs (input-json.ts)", () => {
  it("writes the varying parts first and keys the rest of the same text", () => {
    const s = serialiseInput(input());
    expect(s.json.startsWith('{"time":{"now_ns":1,')).toBe(true);
    expect(s.json.endsWith(s.key)).toBe(true);
    expect(s.key.startsWith(',"address":"127.0.0.1"}')).toBe(true);
    expect(JSON.parse(s.json)).toEqual(JSON.parse(JSON.stringify(input())));
  });

  it("covers a member added anywhere but the four varying parts, and quotes what needs quoting", () => {
    const base = input() as unknown as { session: Record<string, unknown>; http: Record<string, unknown> } & Record<string, unknown>;
    const variants = [
      { ...base, budget: { spent: 1 } },
      { ...base, session: { ...base.session, tenant: "b" } },
      { ...base, session: { ...base.session, client: { address: "127.0.0.1", port: 40000, family: "IPv4" } } },
      { ...base, http: { ...base.http, mcp_session_end: true } },
      { ...base, session: { ...base.session, id: 'a"\\\n\ud800' } },
    ];
    for (const v of variants) {
      const s = serialiseInput(v as unknown as PolicyInput);
      expect(JSON.parse(s.json)).toEqual(JSON.parse(JSON.stringify(v)));
    }
    expect(serialiseInput(variants[4] as unknown as PolicyInput).key).toBe(key());
    for (const v of variants.slice(0, 4)) expect(serialiseInput(v as unknown as PolicyInput).key).not.toBe(key());
  });

  it("serialises a frozen principal once and an unfrozen one each time (a change shows in the key)", () => {
    const principal = { subject: "agent", groups: ["agents"], claims: {}, auth_method: "bearer" };
    const withPrincipal = (p: object) => ({ ...input(), session: { ...input().session, principal: p } }) as unknown as PolicyInput;
    const before = serialiseInput(withPrincipal(principal)).key;
    principal.groups.push("admins");
    expect(serialiseInput(withPrincipal(principal)).key).not.toBe(before);
    const frozen = Object.freeze({ subject: "agent", groups: Object.freeze(["x"]), claims: Object.freeze({}), auth_method: "token" });
    expect(JSON.parse(serialiseInput(withPrincipal(frozen)).json).session.principal).toEqual(frozen);
    expect(serialiseInput(withPrincipal(frozen)).key).toBe(serialiseInput(withPrincipal(frozen)).key);
  });

  it("keys of the two writers never meet: the HTTP one starts with ',' or '}', the generic one with '{'", () => {
    expect(key()[0]).toMatch(/[,}]/);
    expect(serialiseInput({ version: 1, kind: "http", session: { id: "x" } } as unknown as PolicyInput).key[0]).toBe("{");
  });
});

describe("HttpDecisionReuse's last-key memo", () => {
  it("hands back the entry the map holds now: a replaced, dropped or expired entry is not served from the memo", () => {
    const r = new HttpDecisionReuse();
    const k = key();
    r.keep(k, reusable({ decision_id: "a" }), 0);
    expect(r.lookup(key(), 1)?.decision_id).toBe("a");
    r.keep(k, reusable({ decision_id: "b" }), 0);
    expect(r.lookup(key(), 1)?.decision_id).toBe("b");
    r.keep(k, reusable({ decision_id: "c", cache: undefined }), 0);
    expect(r.lookup(key(), 1)).toBeUndefined();
    r.keep(k, reusable({ decision_id: "d" }), 0);
    expect(r.lookup(key(), 1)?.decision_id).toBe("d");
    expect(r.lookup(key(), 60_000)).toBeUndefined();
  });
});
