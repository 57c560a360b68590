// Every shape of OCSF event regate emits validates against OCSF 1.5.0 with the pinned ocsf-emitter models,
// and the validator is not vacuous: broken events are refused.

import { beforeAll, describe, expect, it } from "vitest";
import { lifecycleToOcsf, toOcsf } from "../../src/export/index.js";
import { httpEvent, lifecycleEvents, pgEvent } from "../../src/export/test-events.js";
import { setupValidator, validateOcsf } from "./ocsf-validator.js";

const opts = { product_version: "0.1.0", bundle_name: "regate" };
const PG_KINDS = ["select", "insert", "update", "delete", "merge", "copy", "ddl", "truncate", "show", "explain", "fetch", "cursor", "set", "transaction", "vacuum", "unknown", "parse_error"];
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"];
const OUTCOMES = ["allow", "deny", "approve"] as const;

beforeAll(setupValidator, 300_000);

describe("OCSF events validate against OCSF 1.5.0 (ocsf-emitter, pinned)", () => {
  it("every Postgres statement kind and HTTP method, for every outcome", async () => {
    const events = OUTCOMES.flatMap((o) => [...PG_KINDS.map((k) => toOcsf(pgEvent(o, k), opts)), ...METHODS.map((m) => toOcsf(httpEvent(o, m), opts))]);
    const errorDeny = pgEvent("deny");
    errorDeny.decision.error_code = "POLICY_EVAL_FAILED";
    events.push(toOcsf(errorDeny, opts));
    const dry = httpEvent("allow");
    dry.decision.dry_run = true;
    events.push(toOcsf(dry, opts));
    const verdicts = await validateOcsf(events);
    const failures = verdicts.flatMap((v, i) => (v.ok ? [] : [{ event: i, class_uid: events[i]!.class_uid, errors: v.errors }]));
    expect(failures).toEqual([]);
    expect(verdicts).toHaveLength(OUTCOMES.length * (PG_KINDS.length + METHODS.length) + 2);
  }, 60_000);

  it("every lifecycle event (holds, approvals, budget cuts, kills, locks) on both data paths", async () => {
    const events = lifecycleEvents().map((e) => lifecycleToOcsf(e, opts));
    const verdicts = await validateOcsf(events);
    expect(verdicts.flatMap((v, i) => (v.ok ? [] : [{ event: i, activity: events[i]!["activity_name"], errors: v.errors }]))).toEqual([]);
    expect(verdicts).toHaveLength(20);
  }, 60_000);

  it("refuses broken events (the validator is not vacuous)", async () => {
    const broken: [string, (e: Record<string, unknown>) => Record<string, unknown>, string][] = [
      ["type_uid not class*100+activity", (e) => ({ ...e, type_uid: 600599 }), "type_uid"],
      ["no actor", ({ actor: _a, ...e }) => e, "actor"],
      ["metadata without product", (e) => ({ ...e, metadata: { version: "1.5.0", uid: "x" } }), "metadata.product"],
      ["policy.uid not a string", (e) => ({ ...e, policy: { uid: 42 } }), "uid"],
      ["query_info without query_string", (e) => ({ ...e, query_info: { uid: "x" } }), "query_info.query_string"],
    ];
    const good = toOcsf(pgEvent("allow"), opts) as Record<string, unknown>;
    const verdicts = await validateOcsf(broken.map(([, breakIt]) => breakIt(good)));
    expect(verdicts.map((v, i) => [broken[i]![0], v.ok, (v.errors ?? []).some((e) => e.includes(broken[i]![2]))])).toEqual(broken.map(([name]) => [name, false, true]));
  }, 60_000);
});
