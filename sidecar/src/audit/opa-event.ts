import { loggedReasons, type DecisionEvent } from "../decision/index.js";

export interface OpaEventOptions {
  /** Name under `bundles`, as OPA names a bundle in its config. */
  bundle_name: string;
  labels: Record<string, string>;
}

/**
 * One decision as OPA's decision-log event (EventV1): a line of the stdout decision log and the body
 * element of a POST to a collector's /logs, built in this one place. The event is written as text
 * around parts serialised once (labels, bundle name, and the input the pipeline already serialised
 * for the policy), so a line costs a few string joins instead of a walk over the whole input.
 */
export class OpaEventJson {
  /** `,"labels":…,"path":`: the same in every event. */
  readonly #labelsPath: string;
  #revision = "";
  /** `,"bundles":…,"metrics":{"timer_rego_query_eval_ns":`, per revision. */
  #bundlesMetrics = "";
  readonly #bundleKey: string;
  /** The last `type` and `path` asked for, serialised (each caller passes the same one every time). */
  #type: string | undefined;
  #typeJson = "";
  #path = "";
  #pathJson = "";
  #reusedFrom: string | undefined;
  #reusedFromJson = "";

  constructor(opts: OpaEventOptions) {
    this.#labelsPath = `,"labels":${JSON.stringify(opts.labels)},"path":`;
    this.#bundleKey = JSON.stringify(opts.bundle_name);
  }

  /** The event's members without the enclosing braces, so a caller can put its own fields first. */
  members(e: DecisionEvent, type?: string): string {
    const d = e.decision;
    if (d.revision !== this.#revision) {
      this.#revision = d.revision;
      this.#bundlesMetrics = `,"bundles":{${this.#bundleKey}:{"revision":${JSON.stringify(d.revision)}}},"metrics":{"timer_rego_query_eval_ns":`;
    }
    if (type !== this.#type) {
      this.#type = type;
      this.#typeJson = type === undefined ? "" : `"type":${JSON.stringify(type)},`;
    }
    if (e.path !== this.#path) {
      this.#path = e.path;
      this.#pathJson = JSON.stringify(e.path);
    }
    let s = `${this.#typeJson}"decision_id":${JSON.stringify(d.decision_id)}${this.#labelsPath}${this.#pathJson},"input":${e.input_json ?? JSON.stringify(e.input)}`;
    if (e.result !== undefined) s += `,"result":${e.result_json ?? JSON.stringify(e.result)}`;
    s += `${this.#bundlesMetrics}${e.metrics.timer_rego_query_eval_ns},"timer_regate_decision_ns":${e.metrics.timer_regate_decision_ns}},"timestamp":"${e.timestamp}","outcome":"${d.outcome}","reasons":${reasonsJson(e)}`;
    if (d.error_code) s += `,"error":{"code":${JSON.stringify(d.error_code)}}`;
    if (d.dry_run) s += `,"dry_run":true`;
    if (d.reused_from) {
      // Every reuse of one decision names the same one.
      if (d.reused_from !== this.#reusedFrom) this.#reusedFromJson = JSON.stringify((this.#reusedFrom = d.reused_from));
      s += `,"reused_from":${this.#reusedFromJson}`;
    }
    if (e.erased.length) s += `,"erased":${JSON.stringify(e.erased)}`;
    if (e.masked.length) s += `,"masked":${JSON.stringify(e.masked)}`;
    return s;
  }

  /** The event as one JSON document. */
  json(e: DecisionEvent, type?: string): string {
    return `{${this.members(e, type)}}`;
  }
}

/** The reasons as the masked result shows them (decision/logged-reasons.ts): a mask that hid them there hides them here. */
function reasonsJson(e: DecisionEvent): string {
  const reasons = loggedReasons(e);
  return reasons.length === 0 ? "[]" : JSON.stringify(reasons);
}
