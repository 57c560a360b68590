// The logged view of a decision, for what copies a decision elsewhere. A session recording writes an allowed
// statement's record before the pipeline hands the event to its sinks (a record that cannot be written vetoes
// the statement), so it cannot wait for the event: it asks for the view of the decision it was given.
//
// Both places that ask (the veto inside the pipeline, and the Postgres `decided` hook right after decide()
// returns) run in the same synchronous stretch as the decision, before any other decision can be made. So only
// the latest decision's view is kept. A WeakMap keyed by every decision cost the Postgres path 15-25% of its CPU
// per transaction in garbage collection (docs/benchmarks.md, sixteenth pass).

import type { DecisionEvent } from "./sink.js";
import type { Decision } from "./types.js";

let lastDecision: Decision | undefined;
let lastEvent: DecisionEvent | undefined;

/** Called by the pipeline for every decision it hands out or asks a veto about. */
export function noteLoggedView(decision: Decision, event: DecisionEvent): void {
  lastDecision = decision;
  lastEvent = event;
}

/**
 * The event that logs `decision` (its input and result as the log mask leaves them), or undefined for a decision
 * the pipeline did not log (a preview, or one an adapter made itself) or one made before the latest.
 */
export function loggedViewOf(decision: Decision): DecisionEvent | undefined {
  return decision === lastDecision ? lastEvent : undefined;
}
