// A decision's reasons as its logged view shows them. The reasons are copied from the decision, which
// system.log.mask never changes: the mask rewrites the logged `result` only. A policy that erases or rewrites
// `/result/deny` (a reason quoting a value it keeps out of logs) still had the text in the decision log's own
// `reasons` member and in the SIEM's OCSF message. So when the mask touched the reasons, every copy that
// leaves the pipeline reads them back from the masked result, as the pipeline read them from the policy's.

import { REDACTED } from "../mask/index.js";
import type { DecisionEvent } from "./sink.js";

/** Members of the policy's result the decision's reasons are read from. */
const REASON_MEMBERS = new Set(["deny", "approve"]);

/** A mask path (JSON pointer) that is, contains or lies inside `result.deny` or `result.approve`. */
export function touchesReasons(path: string): boolean {
  const keys = path.split("/").slice(1);
  if (keys[0] !== "result") return false;
  return keys.length === 1 || REASON_MEMBERS.has(keys[1]!.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** What the reasons are read from: a decision and its logged view. */
export type ReasonsView = Pick<DecisionEvent, "decision" | "result" | "erased" | "masked">;

/** The mask changed the reasons (see touchesReasons): decisions the lifecycle export must not quote either. */
export function reasonsMasked(e: ReasonsView): boolean {
  return e.erased.some(touchesReasons) || e.masked.some(touchesReasons);
}

/**
 * The reasons to log or export. Unchanged when the mask left them alone, or when regate wrote them (an error or a
 * veto carries `error_code`; its text is regate's, not the result's). Otherwise read from the logged result:
 * what the mask erased is gone, and anything that is not a string there is written as REDACTED.
 */
export function loggedReasons(e: ReasonsView): string[] {
  const d = e.decision;
  if (d.error_code !== undefined || d.reasons.length === 0 || !reasonsMasked(e)) return d.reasons;
  const result = e.result as { deny?: unknown; approve?: { reason?: unknown } } | undefined;
  const text = (v: unknown): string => (typeof v === "string" ? v : REDACTED);
  if (d.outcome === "deny") return Array.isArray(result?.deny) ? result.deny.map(text) : [];
  if (d.outcome === "approve") return result?.approve?.reason === undefined ? [] : [text(result.approve.reason)];
  return [];
}
