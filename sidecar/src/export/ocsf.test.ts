import { describe, expect, it } from "vitest";
import { MAX_QUERY_CHARS, toOcsf } from "./ocsf.js";
import { lifecycleToOcsf } from "./ocsf-lifecycle.js";
import { httpEvent, lifecycleEvents, pgEvent } from "./test-events.js";

const opts = { product_version: "1.2.3", bundle_name: "regate" };

describe("toOcsf", () => {
  it.each([
    // [name, event, class_uid, activity_id, status_id, action_id, severity_id]
    ["postgres select allowed", pgEvent("allow", "select"), 6005, 4, 1, 1, 1],
    ["postgres insert denied", pgEvent("deny", "insert", "INSERT INTO t VALUES (1)"), 6005, 5, 2, 2, 3],
    ["postgres update held", pgEvent("approve", "update", "UPDATE t SET a = 1"), 6005, 2, 99, 2, 2],
    ["postgres delete denied", pgEvent("deny", "delete", "DELETE FROM t"), 6005, 7, 2, 2, 3],
    ["postgres vacuum", pgEvent("allow", "vacuum", "VACUUM"), 6005, 99, 1, 1, 1],
    ["http GET allowed", httpEvent("allow", "GET"), 6003, 2, 1, 1, 1],
    ["http POST held", httpEvent("approve", "POST", "/refunds"), 6003, 1, 99, 2, 2],
    ["http DELETE denied", httpEvent("deny", "DELETE"), 6003, 4, 2, 2, 3],
    ["http PROPFIND", httpEvent("deny", "PROPFIND"), 6003, 99, 2, 2, 3],
  ] as const)("%s", (_name, e, class_uid, activity_id, status_id, action_id, severity_id) => {
    const o = toOcsf(e, opts);
    expect(o).toMatchObject({ class_uid, activity_id, type_uid: class_uid * 100 + activity_id, status_id, action_id, severity_id, category_uid: 6 });
    expect(o.metadata).toMatchObject({ uid: e.decision.decision_id, version: "1.5.0", product: { name: "regate", version: "1.2.3" } });
    expect(o["policy"]).toEqual({ uid: "rev-42", name: "regate", version: "rev-42" });
    expect(o["actor"]).toMatchObject({ user: { uid: "agent-7", groups: [{ name: "agents" }, { name: "support" }] } });
    expect(o["time"]).toBe(Date.parse("2026-01-01T00:00:00.123Z"));
  });

  it("postgres: query_info carries the statement text, the database the target", () => {
    const o = toOcsf(pgEvent("allow"), opts);
    expect(o["query_info"]).toEqual({ query_string: "SELECT email FROM customers WHERE id = $1", uid: o.metadata.uid });
    expect(o["database"]).toEqual({ name: "crm-db", type_id: 1, type: "Relational" });
  });

  it("postgres: a long query is cut and flagged", () => {
    const o = toOcsf(pgEvent("allow", "select", "SELECT " + "x,".repeat(MAX_QUERY_CHARS)), opts);
    expect((o["query_info"] as { query_string: string }).query_string).toHaveLength(MAX_QUERY_CHARS);
    expect(o["unmapped"]).toMatchObject({ regate: { query_truncated: true } });
  });

  it("http: api.operation and http_request from the request", () => {
    const o = toOcsf(httpEvent("deny", "DELETE", "/orders/9"), opts);
    expect(o["api"]).toEqual({ operation: "DELETE /crm/orders/9", service: { name: "crm" }, request: { uid: o.metadata.uid } });
    expect(o["http_request"]).toEqual({ http_method: "DELETE", url: { scheme: "http", hostname: "crm.localhost", port: 8080, path: "/crm/orders/9", query_string: "expand=1" } });
    expect(o["message"]).toBe("writes are not allowed");
  });

  it("dry run: status, action and disposition say allowed; severity, message and authorization say what the policy decided", () => {
    const e = pgEvent("deny", "delete", "DELETE FROM t");
    e.decision.dry_run = true;
    const o = toOcsf(e, opts);
    expect(o).toMatchObject({ status_id: 1, action_id: 1, disposition_id: 1, severity_id: 3, message: "dry run, not enforced: writes are not allowed", unmapped: { regate: { dry_run: true, outcome: "deny" } } });
    expect(o["actor"]).toMatchObject({ authorizations: [{ decision: "deny" }] });
  });

  it("an error deny carries the error code", () => {
    const e = pgEvent("deny");
    e.decision.error_code = "POLICY_EVAL_FAILED";
    expect(toOcsf(e, opts)).toMatchObject({ status_code: "POLICY_EVAL_FAILED", status_detail: "writes are not allowed" });
  });
});

describe("lifecycle events in OCSF", () => {
  it("keep the class of their data path, link to the decision, and say what happened", () => {
    const events = lifecycleEvents();
    const pg = lifecycleToOcsf(events.find((e) => e.path === "postgres" && e.kind === "approval_refused")!, opts);
    expect(pg).toMatchObject({
      class_uid: 6005,
      activity_id: 99,
      type_uid: 600599,
      activity_name: "Approval refused",
      status_id: 2,
      disposition_id: 2,
      message: "Approval refused: not during the freeze",
      metadata: { correlation_uid: "00000000-0000-4000-8000-000000000003", log_name: "lifecycle" },
      actor: { user: { uid: "agent-7" } },
      query_info: { query_string: "UPDATE payments SET amount = 0 WHERE id = 1" },
      unmapped: { regate: { event: "approval_refused", approval_id: "apr_0123456789abcdef", actor: "alice", session_id: "s-1" } },
    });
    const killed = lifecycleToOcsf(events.find((e) => e.path === "http" && e.kind === "session_killed")!, opts);
    expect(killed).toMatchObject({ class_uid: 6003, type_uid: 600399, disposition_id: 6, disposition: "Dropped", api: { operation: "POST /crm/refunds" } });
    // Each lifecycle event is an event of its own: its uid is never the decision's.
    expect(killed.metadata.uid).not.toBe(events[7]!.decision_id);
  });
});
