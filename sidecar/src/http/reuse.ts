// Decision reuse on the HTTP path: the policy's `cache` directive, as on the Postgres path (docs/policy.md).

import type { Decision, PolicyInput } from "../decision/types.js";

/** Distinct inputs kept; the oldest goes first. Keys are the input's JSON (about a kilobyte each). */
const CAPACITY = 1024;

interface Entry {
  decision: Decision;
  expires: number;
}

/**
 * Decisions the policy declared reusable, shared by every request of the gateway. Each HTTP request is its
 * own session, so an entry can only ever hit if the directive lets both the clock (`time`) and the request's
 * own identity (`request`: `session.id`, `session.started_at`, `session.client.port`) vary; a decision that
 * does not list both is never kept. The key is the JSON of everything else in the input: the principal, the
 * client's address, the route, the effective and request-line methods, the canonical and raw path, the
 * query, every header the policy sees and the body's facts. Other parts named in `across` (`parameters`,
 * `budget`) stay in the key: stricter than the directive, never looser. The pipeline checks the bundle
 * revision and logs every reuse as a decision of its own (`reused_from`); a lock or a recording failure
 * still turns a reused allow into a deny there, and such a deny is never kept.
 */
export class HttpDecisionReuse {
  readonly #map = new Map<string, Entry>();

  /** The input without the parts a reusable HTTP decision lets vary. */
  key(input: PolicyInput): string {
    const { time: _time, session, ...rest } = input;
    const { id: _id, started_at: _started, client, ...who } = session;
    return JSON.stringify([rest, who, client.address]);
  }

  /**
   * The key of this input and the decision kept for it. No key is computed (it costs a serialisation of the
   * input) while nothing is kept: under a policy that never declares `cache`, nothing ever is.
   */
  lookup(input: PolicyInput, now = Date.now()): { key: string | undefined; prior: Decision | undefined } {
    if (this.#map.size === 0) return { key: undefined, prior: undefined };
    const key = this.key(input);
    const e = this.#map.get(key);
    if (!e) return { key, prior: undefined };
    if (e.expires <= now) {
      this.#map.delete(key);
      return { key, prior: undefined };
    }
    return { key, prior: e.decision };
  }

  /**
   * Keeps an evaluated allow or deny the policy marked reusable across time and requests. Never a
   * fail-closed error, an adapter veto, a dry run, a reuse, or an approval (each approval is its own
   * evaluation: hold.ts files one per decision).
   */
  keep(input: PolicyInput, key: string | undefined, decision: Decision, now = Date.now()): void {
    if (decision.reused_from !== undefined) return;
    const c = decision.cache;
    const reusable = c !== undefined && decision.error_code === undefined && !decision.dry_run && decision.outcome !== "approve" && c.across.includes("time") && c.across.includes("request");
    if (!reusable) {
      // A new revision may have dropped the directive: the old entry must not make every request try it.
      if (key !== undefined) this.#map.delete(key);
      return;
    }
    const k = key ?? this.key(input);
    if (this.#map.size >= CAPACITY && !this.#map.has(k)) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(k, { decision, expires: now + c.ttl_seconds * 1000 });
  }

  get size(): number {
    return this.#map.size;
  }
}
