import type { Logger } from "../log.js";
import type { Approval } from "./types.js";

export type EventLevel = "info" | "warn" | "error";

/**
 * Logs each approval transition as an approval event, then tells the listener (the SIEM export). A
 * listener that throws is logged and ignored: it must not undo a transition already made.
 */
export class ApprovalEvents {
  readonly #log: Logger;
  readonly #onEvent: ((event: string, a: Approval) => void) | undefined;

  constructor(log: Logger, onEvent: ((event: string, a: Approval) => void) | undefined) {
    this.#log = log;
    this.#onEvent = onEvent;
  }

  emit(level: EventLevel, a: Approval, event: string, extra: Record<string, unknown>): void {
    this.#log[level]({ event, approval_id: a.id, decision_id: a.decision_id, session_id: a.session_id, principal: a.principal, target: a.target, ...extra }, event.replace(/_/g, " "));
    try {
      this.#onEvent?.(event, a);
    } catch (err) {
      this.#log.warn({ err, approval_id: a.id, event }, "approval event listener failed");
    }
  }
}
