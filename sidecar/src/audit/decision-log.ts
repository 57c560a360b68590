import type { Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { opaEvent, type OpaEventOptions } from "./opa-event.js";

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
  readonly #event: OpaEventOptions;

  constructor(
    private readonly logger: Logger,
    opts: DecisionLogOptions,
  ) {
    this.#event = { bundle_name: opts.bundleName, labels: opts.labels };
  }

  record(e: DecisionEvent): void {
    this.logger.info(opaEvent(e, this.#event, "openpolicyagent.org/decision_logs"), "Decision Log");
  }
}
