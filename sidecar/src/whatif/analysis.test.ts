import { describe, expect, it } from "vitest";
import { RegateError } from "../errors.js";
import type { ActivePolicy } from "../policy/index.js";
import { Analysis } from "./analysis.js";
import { failures, parseFailOn } from "./fail-on.js";
import { formatReport } from "./format.js";

type Rules = (path: string) => unknown;

/** A policy deciding by HTTP path, evaluated as the real engine is: JSON bytes in, a value out. */
function policy(revision: string, rules: Rules): ActivePolicy {
  return {
    revision,
    entrypoints: new Set(["regate/decision"]),
    evaluate(_entrypoint, input) {
      const doc = JSON.parse(new TextDecoder().decode(input as ArrayBuffer)) as { http: { path: string } };
      return rules(doc.http.path);
    },
  };
}

const ok = { allow: true, deny: [], mask: [] };
const no = (reason: string) => ({ allow: false, deny: [reason], mask: [] });
const BASE: Rules = (p) => (p.startsWith("/admin") ? no("admin is off limits") : p === "/drift" ? no("drifted") : ok);
const CANDIDATE: Rules = (p) => (p.startsWith("/orders") ? no("orders are closed") : ok);

function line(n: number, path: string, subject: string, logged: "allow" | "deny", extra: Record<string, unknown> = {}) {
  const reasons = logged === "deny" ? [path.startsWith("/admin") ? "admin is off limits" : "drifted"] : [];
  return {
    at: `log:${n}`,
    event: {
      type: "openpolicyagent.org/decision_logs",
      decision_id: `d${n}`,
      path: "regate/decision",
      input: { version: 1, kind: "http", session: { principal: { subject } }, http: { method: "GET", path } },
      result: { allow: logged === "allow", deny: reasons, mask: [] },
      bundles: { regate: { revision: "r1" } },
      outcome: logged,
      reasons,
      ...extra,
    },
  };
}

const LINES = [
  line(1, "/orders/1", "alice", "allow"),
  line(2, "/orders/2", "bob", "allow"),
  line(3, "/orders/3", "alice", "allow"),
  line(4, "/admin/users", "alice", "deny"),
  line(5, "/health", "bob", "allow"),
  // Logged as allowed, but the baseline denies it: another bundle was running when it was logged.
  line(6, "/drift", "bob", "allow"),
  // The log mask erased a field: reported apart, even though it would change.
  line(7, "/orders/9", "carol", "allow", { erased: ["/input/http/parsed_body"] }),
  { at: "log:8", event: { type: "openpolicyagent.org/decision_logs", decision_id: "opa", input: {}, result: ok } },
];

function analyse(examples = 2) {
  const a = new Analysis({ candidate: { bundle: "cand.tar.gz", policy: policy("r2", CANDIDATE) }, baseline: { bundle: "base.tar.gz", policy: policy("r1", BASE) }, examples });
  for (const l of LINES) a.add(l);
  a.skipped(5);
  return a.report();
}

describe("Analysis", () => {
  it("counts transitions of reproduced, complete inputs only, grouped by reason and by principal", () => {
    const r = analyse();
    expect(r).toMatchObject({ decisions: 8, lines_skipped: 5, compared: 5, unchanged: 1 });
    expect(Object.keys(r.changes)).toEqual(["allow-to-deny", "deny-to-allow"]);
    const a2d = r.changes["allow-to-deny"]!;
    expect(a2d.count).toBe(3);
    expect(a2d.by_reason.map((g) => [g.key, g.count, g.examples.map((e) => e.decision_id)])).toEqual([["+ orders are closed", 3, ["d1", "d2"]]]);
    expect(a2d.by_principal.map((g) => [g.key, g.count])).toEqual([
      ["alice", 2],
      ["bob", 1],
    ]);
    expect(a2d.by_reason[0]!.examples[0]).toEqual({ decision_id: "d1", at: "log:1", principal: "alice", statement: "GET /orders/1" });
    expect(r.changes["deny-to-allow"]).toMatchObject({ count: 1, by_reason: [{ key: "- admin is off limits", count: 1 }] });
  });

  it("reports partial inputs, not reproducible and unusable events apart", () => {
    const r = analyse();
    expect(r.partial_input).toEqual({
      count: 1,
      changes: { "allow-to-deny": 1 },
      examples: [{ decision_id: "d7", at: "log:7", principal: "carol", statement: "GET /orders/9", erased: ["/input/http/parsed_body"], masked: [], change: "allow-to-deny", reproduced: true }],
    });
    expect(r.not_reproducible.count).toBe(1);
    expect(r.not_reproducible.examples[0]).toMatchObject({ decision_id: "d6", logged_revision: "r1", logged: { outcome: "allow" }, baseline: { outcome: "deny", reasons: ["drifted"] } });
    expect(r.unusable).toEqual({ count: 1, examples: [{ at: "log:8", why: "no regate outcome in the event" }] });
  });

  it("without a baseline, the logged decision is the baseline", () => {
    const a = new Analysis({ candidate: { bundle: "cand.tar.gz", policy: policy("r2", CANDIDATE) }, examples: 1 });
    for (const l of LINES) a.add(l);
    const r = a.report();
    expect(r.baseline).toBe("logged decisions");
    expect(r.not_reproducible.count).toBe(0);
    // /drift: logged allow, candidate allow; /admin: logged deny, candidate allow.
    expect(r.changes["allow-to-deny"]!.count).toBe(3);
    expect(r.changes["deny-to-allow"]!.count).toBe(1);
    expect(r.compared).toBe(6);
  });

  it("a candidate that fails to evaluate is a fail-closed deny with its error as the reason", () => {
    const broken = policy("r3", () => {
      // What the engine throws for a conflict or a runtime error in the module.
      throw new RegateError("POLICY_EVAL_FAILED", undefined, { cause: new Error("conflict") });
    });
    const a = new Analysis({ candidate: { bundle: "broken.tar.gz", policy: broken }, examples: 1 });
    a.add(line(1, "/health", "bob", "allow"));
    expect(a.report().changes["allow-to-deny"]!.by_reason[0]!.key).toBe("+ policy evaluation failed");
  });

  it("the text report names every section", () => {
    const text = formatReport(analyse(1));
    expect(text).toContain("8 decisions (5 other lines skipped): 5 compared, 1 unchanged, 4 changed; 1 partial input, 1 not reproducible, 1 unusable");
    expect(text).toContain("allow-to-deny: 3\n  by reason:\n       3  + orders are closed\n            alice: GET /orders/1  [log:1 d1]\n  by principal:\n       2  alice");
    expect(text).toContain("logged allow (revision r1); baseline deny (drifted)");
  });
});

describe("--fail-on", () => {
  it.each<[string, string[]]>([
    ["deny-to-allow", ["deny-to-allow"]],
    ["allow-to-approve,mask-removed", []],
    ["any", ["any"]],
    ["partial-input,not-reproducible", ["partial-input", "not-reproducible"]],
    ["allow-to-deny, deny-to-allow", ["allow-to-deny", "deny-to-allow"]],
  ])("%s trips on %j", (flag, want) => {
    expect(failures(analyse(), parseFailOn(flag))).toEqual(want);
  });

  it("refuses an unknown kind and lists the known ones", () => {
    expect(() => parseFailOn("deny-to-alow")).toThrow(/unknown kind deny-to-alow; known: allow-to-deny, /);
  });
});
