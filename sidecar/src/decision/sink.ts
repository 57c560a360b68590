import type { RegateError } from "../errors.js";
import type { Decision, PolicyInput } from "./types.js";

export interface DecisionMetrics {
  timer_rego_query_eval_ns: number;
  timer_regate_decision_ns: number;
}

/** What every sink (decision log, session recording, metrics) receives for one decision. */
export interface DecisionEvent {
  decision: Decision;
  /** The entrypoint, as OPA names it in decision logs ("regate/decision"). */
  path: string;
  /** The input after system.log.mask; the only form of the input that leaves the pipeline. */
  input: PolicyInput;
  /** `input` serialised, when the pipeline has it at hand (sinks that write JSON use it as is). */
  input_json?: string;
  /**
   * The decided input's kind, as `input.kind` but read without making the logged view (log-view.ts): the
   * pipeline's events work the view out when a sink first reads `input`, `input_json`, `result`, `erased`
   * or `masked`.
   */
  kind?: string;
  /** About how long the input's JSON is, known without making the logged view (a sink's buffer reckoning). */
  input_chars?: number;
  /** The policy's raw value (undefined when the policy errored or was undefined). */
  result: unknown;
  /** `result` serialised, when the pipeline has it at hand (a reused decision's, serialised once per scope). */
  result_json?: string;
  erased: string[];
  masked: string[];
  metrics: DecisionMetrics;
  timestamp: string;
}

/** Sinks are called synchronously on the hot path: they must not block; buffer and flush instead. */
export interface DecisionSink {
  record(event: DecisionEvent): void;
  /**
   * Optional back-pressure: asked before each decision; an error returned makes the decision a fail-closed deny
   * with that error's code (a decision-log upload in `block` mode whose buffer is full).
   */
  admit?(): RegateError | undefined;
  /** True while admit() would refuse: adapters that can wait do so (bounded) before deciding. */
  full?(): boolean;
}
