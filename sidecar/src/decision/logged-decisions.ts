// The logged view of a decision, for what copies a decision elsewhere. A session recording writes an allowed
// statement's record before the pipeline hands the event to its sinks (a record that cannot be written vetoes
// the statement), so it cannot wait for the event: it looks the view up by the decision it was given. Keyed by
// the decision object, which the adapters keep for as long as they use it: nothing to expire.

import type { DecisionEvent } from "./sink.js";
import type { Decision } from "./types.js";

const views = new WeakMap<Decision, DecisionEvent>();

/** Called by the pipeline for every decision it hands out or asks a veto about. */
export function noteLoggedView(decision: Decision, event: DecisionEvent): void {
  views.set(decision, event);
}

/**
 * The event that logs `decision` (its input and result as the log mask leaves them), or undefined for a decision
 * the pipeline did not log (a preview, or one an adapter made itself).
 */
export function loggedViewOf(decision: Decision): DecisionEvent | undefined {
  return views.get(decision);
}
