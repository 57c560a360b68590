// Maps a lifecycle event (a hold and its end, a budget cut, a session ended by a responder or a lock) to an
// OCSF 1.5 event of the same class as the decisions of its data path, linked to the decision by
// metadata.correlation_uid. Pure: no I/O, no clock. docs/export.md lists the mapping.

import { randomUUID } from "node:crypto";
import type { LifecycleEvent, LifecycleKind } from "../audit/index.js";
import { CATEGORY, CLASSES, OCSF_VERSION, type OcsfEvent, type OcsfOptions } from "./ocsf.js";
import { maskCredentialLiterals } from "../mask/index.js";

interface Verdict {
  name: string;
  status_id: number;
  status: string;
  action_id: number;
  action: string;
  disposition_id: number;
  disposition: string;
  severity_id: number;
  severity: string;
}

const held = { status_id: 99, status: "Held for approval", action_id: 2, action: "Denied", disposition_id: 99, disposition: "Held for approval", severity_id: 2, severity: "Low" };
const allowed = { status_id: 1, status: "Success", action_id: 1, action: "Allowed", disposition_id: 1, disposition: "Allowed", severity_id: 1, severity: "Informational" };
const blocked = { status_id: 2, status: "Failure", action_id: 2, action: "Denied", disposition_id: 2, disposition: "Blocked", severity_id: 3, severity: "Medium" };

/** OCSF's status, security-control action and disposition for each kind, and the activity's name. */
const KINDS: Record<LifecycleKind, Verdict> = {
  approval_requested: { name: "Approval requested", ...held },
  approval_deferred: { name: "Approval pending, client told to re-run", ...held },
  approval_approved: { name: "Approval granted", ...allowed },
  approval_refused: { name: "Approval refused", ...blocked },
  approval_expired: { name: "Approval expired", ...blocked },
  approval_withdrawn: { name: "Approval withdrawn", ...blocked, severity_id: 1, severity: "Informational" },
  // The replica holding the statement went away: nothing ran, and nothing will.
  approval_abandoned: { name: "Approval abandoned", ...blocked, severity_id: 1, severity: "Informational" },
  budget_cut: { name: "Budget exceeded, result cut", ...blocked },
  // Dropped: the connection was ended because of what it did.
  session_killed: { name: "Session killed", ...blocked, disposition_id: 6, disposition: "Dropped", severity_id: 4, severity: "High" },
  session_locked: { name: "Session ended by a lock", ...blocked, disposition_id: 6, disposition: "Dropped", severity_id: 4, severity: "High" },
};

const OTHER = 99;

export function lifecycleToOcsf(e: LifecycleEvent, opts: OcsfOptions): OcsfEvent {
  const k = KINDS[e.kind];
  const cls = e.path === "postgres" ? CLASSES.datastore : CLASSES.api;
  const regate: Record<string, unknown> = { event: e.kind };
  for (const key of ["approval_id", "lock_id", "session_id", "target", "actor"] as const) if (e[key] !== undefined) regate[key] = e[key];
  const event: Record<string, unknown> = {
    category_uid: CATEGORY.uid,
    category_name: CATEGORY.name,
    class_uid: cls.uid,
    class_name: cls.name,
    activity_id: OTHER,
    activity_name: k.name,
    type_uid: cls.uid * 100 + OTHER,
    type_name: `${cls.name}: Other`,
    time: Date.parse(e.time),
    time_dt: e.time,
    severity_id: k.severity_id,
    severity: k.severity,
    status_id: k.status_id,
    status: k.status,
    action_id: k.action_id,
    action: k.action,
    disposition_id: k.disposition_id,
    disposition: k.disposition,
    message: e.reason ? `${k.name}: ${e.reason}` : k.name,
    metadata: {
      version: OCSF_VERSION,
      uid: randomUUID(),
      ...(e.decision_id ? { correlation_uid: e.decision_id } : {}),
      product: { name: "regate", vendor_name: "regate", version: opts.product_version },
      profiles: ["security_control"],
      log_name: "lifecycle",
    },
    actor: { user: { uid: e.principal.subject, name: e.principal.subject, groups: (e.principal.groups ?? []).map((name) => ({ name })) } },
    src_endpoint: e.client ? { ip: e.client.address, port: e.client.port } : {},
    unmapped: { regate },
  };
  if (e.path === "postgres") {
    Object.assign(event, {
      type_id: 1,
      type: "Database",
      database: { name: e.target ?? "", type_id: 1, type: "Relational" },
      // As for decisions (ocsf.ts): a credential's literals do not go to the SIEM.
      ...(e.subject ? { query_info: { query_string: maskCredentialLiterals(e.subject), ...(e.decision_id ? { uid: e.decision_id } : {}) } } : {}),
    });
  } else {
    Object.assign(event, { api: { operation: e.subject ?? "", service: { name: e.target ?? "" }, ...(e.decision_id ? { request: { uid: e.decision_id } } : {}) } });
  }
  return event as OcsfEvent;
}
