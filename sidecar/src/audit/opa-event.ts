import type { DecisionEvent } from "../decision/index.js";

export interface OpaEventOptions {
  /** Name under `bundles`, as OPA names a bundle in its config. */
  bundle_name: string;
  labels: Record<string, string>;
}

/** One decision as OPA's decision-log event (EventV1): the body element of a POST to /logs. */
export function opaEvent(e: DecisionEvent, opts: OpaEventOptions): Record<string, unknown> {
  const d = e.decision;
  const out: Record<string, unknown> = {
    decision_id: d.decision_id,
    labels: opts.labels,
    path: e.path,
    input: e.input,
    result: e.result,
    bundles: { [opts.bundle_name]: { revision: d.revision } },
    metrics: e.metrics,
    timestamp: e.timestamp,
    outcome: d.outcome,
    reasons: d.reasons,
  };
  if (d.error_code) out["error"] = { code: d.error_code };
  if (d.dry_run) out["dry_run"] = true;
  if (e.erased.length) out["erased"] = e.erased;
  if (e.masked.length) out["masked"] = e.masked;
  return out;
}
