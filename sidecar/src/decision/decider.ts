import type { Decision, PolicyInput } from "./types.js";

/**
 * What adapters call. Implemented by the pipeline (policy evaluation, strict result validation,
 * decision log, sinks); adapters never see the policy engine itself.
 */
export interface Decider {
  /**
   * Synchronous: a compiled WASM evaluation takes tens of microseconds, so adapters call it inline.
   * Never throws for policy problems: those become a deny with `error_code`.
   */
  decide(input: PolicyInput): Decision;
}
