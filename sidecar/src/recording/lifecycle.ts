import type { LifecycleEvent, LifecycleListener } from "../audit/index.js";
import { DETECTOR_NAMES, maskText, REDACTED } from "../mask/index.js";
import type { HttpRecorder } from "./http.js";
import type { Recorder } from "./recorder.js";
import { recordableSql } from "./redact.js";

// Approval transitions, budget cuts, kills and locks as records of their own in the recording of the session
// they concern, linked to the decision they follow. An event about a session no longer recorded (an approval
// answered after the agent went away) goes to the journal instead, which is chained the same way.

/**
 * The statement or "METHOD /path" an event names: every quoted literal replaced and every detector applied,
 * since no decision says here which values are protected.
 */
function recordableSubject(subject: string | undefined): string | undefined {
  if (subject === undefined) return undefined;
  return maskText(recordableSql(subject, undefined), DETECTOR_NAMES, "redact") ?? REDACTED;
}

/** What the decision log withheld of the decisions events follow (the OCSF export's MaskedSubjects). */
export interface HiddenTexts {
  /** The event follows a decision, or belongs to a session, whose statement text the log mask hid. */
  withhold(e: { decision_id?: string; session_id?: string }): boolean;
  /** The event follows a decision whose reasons the log mask hid. */
  withholdReason(e: { decision_id?: string }): boolean;
}

export function lifecycleRecorder(rec: Recorder, http?: HttpRecorder, hidden?: HiddenTexts): LifecycleListener {
  return (e: LifecycleEvent) => {
    // An approval's reason is its decision's, copied before the log mask; so is the statement a hold names.
    const quotesDecision = e.kind === "approval_requested" || e.kind === "approval_deferred";
    const body = {
      kind: e.kind,
      path: e.path,
      decision_id: e.decision_id,
      approval_id: e.approval_id,
      lock_id: e.lock_id,
      actor: e.actor,
      reason: e.reason !== undefined && quotesDecision && hidden?.withholdReason(e) ? REDACTED : e.reason,
      subject: e.subject !== undefined && hidden?.withhold(e) ? REDACTED : recordableSubject(e.subject),
    };
    const id = e.session_id;
    if (id === undefined) return;
    // HTTP events name the request; its recording is the group the request belongs to.
    const session = { id: (e.path === "http" ? http?.sessionOfRequest(id) : undefined) ?? id };
    const type = e.kind.startsWith("approval_") ? "approval" : e.kind;
    if (rec.appendOpen(session.id, type, { ...body, ...(session.id !== id ? { request_id: id } : {}) })) return;
    rec.journalEvent({ ...body, session: session.id, ...(session.id !== id ? { request_id: id } : {}) });
  };
}
