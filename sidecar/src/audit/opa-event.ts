import type { DecisionEvent } from "../decision/index.js";

export interface OpaEventOptions {
  /** Name under `bundles`, as OPA names a bundle in its config. */
  bundle_name: string;
  labels: Record<string, string>;
}

/**
 * One decision as OPA's decision-log event (EventV1): a line of the stdout decision log and the body
 * element of a POST to a collector's /logs, built in this one place.
 */
export function opaEvent(e: DecisionEvent, opts: OpaEventOptions, type?: string): Record<string, unknown> {
  const d = e.decision;
  const out: Record<string, unknown> = {};
  if (type) out["type"] = type;
  out["decision_id"] = d.decision_id;
  out["labels"] = opts.labels;
  out["path"] = e.path;
  out["input"] = e.input;
  out["result"] = e.result;
  out["bundles"] = { [opts.bundle_name]: { revision: d.revision } };
  out["metrics"] = e.metrics;
  out["timestamp"] = e.timestamp;
  out["outcome"] = d.outcome;
  out["reasons"] = d.reasons;
  if (d.error_code) out["error"] = { code: d.error_code };
  if (d.dry_run) out["dry_run"] = true;
  if (d.reused_from) out["reused_from"] = d.reused_from;
  if (e.erased.length) out["erased"] = e.erased;
  if (e.masked.length) out["masked"] = e.masked;
  return out;
}
