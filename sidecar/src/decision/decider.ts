import type { Decision, PolicyInput } from "./types.js";

/**
 * A refusal the adapter must add to the policy's allow, known only to the adapter (a budget spent,
 * a result it cannot mask). Applied inside the pipeline before the decision is logged, so the logged
 * decision is always the enforced one.
 */
export interface Veto {
  reason: string;
  error_code: string;
}

export interface DecideOptions {
  /** Called with an allow (or approve) before it is logged; a Veto turns it into a deny. */
  veto?: (decision: Decision) => Veto | undefined;
  /**
   * Evaluate without logging: for the shape of a reply (which columns a later decision will mask),
   * never for letting a message through.
   */
  preview?: boolean;
  /**
   * An earlier decision the adapter found for an input identical in everything its `cache` directive
   * does not let vary. Reused (and logged as reused) when the policy that decided it is still the loaded one.
   */
  reuse?: Decision;
  /**
   * `JSON.stringify(input)`, when the adapter serialised the input anyway (the HTTP adapter does, to key its
   * decision reuse): the pipeline then evaluates and logs this text instead of serialising the input again.
   * Or a function that makes it, called only if the text is needed: a reused decision is not evaluated, and
   * its log line carries this text only when no mask changes the input (the Postgres adapter passes one).
   */
  inputJson?: string | (() => string);
}

/**
 * What adapters call. Implemented by the pipeline (policy evaluation, strict result validation,
 * decision log, sinks); adapters never see the policy engine itself.
 */
export interface Decider {
  /**
   * Synchronous: a compiled WASM evaluation takes tens of microseconds, so adapters call it inline.
   * Never throws for policy problems: those become a deny with `error_code`.
   */
  decide(input: PolicyInput, options?: DecideOptions): Decision;
  /** True while a sink in block mode would refuse decisions (back-pressure); callers may wait first. */
  congested?(): boolean;
}
