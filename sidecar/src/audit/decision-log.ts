import type { Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";

export interface DecisionLogOptions {
  /** Bundle name under `bundles` in the event, as OPA names a bundle in its config. */
  bundleName: string;
  labels: Record<string, string>;
}

/**
 * One line per decision in OPA's decision-log event shape (EventV1), written the way OPA's console
 * logger writes it, so anything that reads OPA decision logs reads these.
 */
export class DecisionLog implements DecisionSink {
  constructor(
    private readonly logger: Logger,
    private readonly opts: DecisionLogOptions,
  ) {}

  record(e: DecisionEvent): void {
    const d = e.decision;
    const line: Record<string, unknown> = {
      type: "openpolicyagent.org/decision_logs",
      decision_id: d.decision_id,
      labels: this.opts.labels,
      path: e.path,
      input: e.input,
      result: e.result,
      bundles: { [this.opts.bundleName]: { revision: d.revision } },
      metrics: e.metrics,
      timestamp: e.timestamp,
      outcome: d.outcome,
      reasons: d.reasons,
    };
    if (d.error_code) line["error"] = { code: d.error_code };
    if (d.dry_run) line["dry_run"] = true;
    if (d.reused_from) line["reused_from"] = d.reused_from;
    if (e.erased.length) line["erased"] = e.erased;
    if (e.masked.length) line["masked"] = e.masked;
    this.logger.info(line, "Decision Log");
  }
}
