/**
 * What happens to a statement, a request or a session after its decision: a hold and how it ended,
 * a budget cut, a session ended by a responder or a lock. Decisions go to decision sinks; these go to
 * lifecycle listeners (the SIEM export), each linked to the decision it belongs to when there is one.
 */
export type LifecycleKind =
  | "approval_requested"
  | "approval_approved"
  | "approval_refused"
  | "approval_expired"
  | "approval_withdrawn"
  | "approval_abandoned"
  | "approval_deferred"
  | "budget_cut"
  | "session_killed"
  | "session_locked";

export interface LifecycleEvent {
  kind: LifecycleKind;
  /** ISO time of the event. */
  time: string;
  /** Which data path: Postgres statements and HTTP requests map to different SIEM classes. */
  path: "postgres" | "http";
  /** The decision this event follows, when there is one. */
  decision_id?: string;
  approval_id?: string;
  lock_id?: string;
  session_id?: string;
  principal: { subject: string; groups?: readonly string[] };
  target?: string;
  client?: { address: string; port: number };
  /** The person who acted (reviewer, responder), never an agent. */
  actor?: string;
  /** Why, in words an operator reads (a reviewer's comment, a lock's message, the budget that ran out). */
  reason?: string;
  /** The statement text or "METHOD /path", as the decision's input had it. */
  subject?: string;
}

export type LifecycleListener = (e: LifecycleEvent) => void;

/** Fans events out to listeners; a listener that throws is reported and never stops the others. */
export class LifecycleBus {
  readonly #listeners: LifecycleListener[] = [];

  constructor(private readonly onError: (err: unknown, e: LifecycleEvent) => void = () => {}) {}

  listen(l: LifecycleListener): void {
    this.#listeners.push(l);
  }

  emit(e: LifecycleEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.onError(err, e);
      }
    }
  }
}
