import type { Decider } from "./decider.js";

/** How long a statement or request waits for room in a full decision sink before it is refused. */
export const BACKPRESSURE_WAIT_MS = 2000;

/**
 * Waits (bounded) while a decision sink is full (a decision-log upload in `block` mode, a decision log whose
 * stdout is not read); the decision taken afterwards refuses if it still is. Adapters that can wait call it.
 */
export async function roomInSinks(decider: Pick<Decider, "congested">, waitMs = BACKPRESSURE_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (decider.congested?.() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}
