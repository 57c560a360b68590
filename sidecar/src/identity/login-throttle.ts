/**
 * Failed agent logins, counted so that a token cannot be guessed by asking fast: each source may fail
 * `perSource` times per window, and all sources together `overall` times; past that, attempts are refused
 * before any credential is checked (a refused attempt learns nothing and costs nothing).
 *
 * Counts are leaky buckets: a failure adds one, and each bucket drains at its limit per window. A source
 * that stops failing is let in again after window/limit (6 s with 10 a minute), not after a whole window:
 * an agent with the right token waits behind an attacker only as long as the limit needs.
 *
 * Sources: a Postgres user that is a configured agent (it logs in with SCRAM) counts on its own only, so
 * guessing elsewhere (other names, HTTP) never locks it out, and guessing its token is bounded by its own
 * limit. Anything else (another Postgres user name, with a token or JWT as password; an HTTP bearer, which
 * names nobody, by client address) counts on its own and in the overall bucket, which bounds an attacker
 * who changes names or addresses.
 */

export type SourceKind = "agent" | "user" | "address";

export interface LoginThrottleOptions {
  /** Failures one source may have per window; 0: no throttling at all. */
  perSource: number;
  /** Failures of all sources but configured agents together per window. */
  overall: number;
  windowMs: number;
  /** Sources remembered at most (the oldest drained first): memory stays bounded whatever is claimed. */
  maxSources?: number;
  now?: () => number;
  /** Called when a source (or the whole listener) starts being refused: for the log; never carries a credential. */
  onThrottled?: (event: { kind: SourceKind | "overall"; name: string; retry_after_s: number }) => void;
}

/**
 * What the adapters ask before and tell after they check a credential: this process's LoginThrottle, or
 * with workers > 1 the cluster's (cluster/login-throttle.ts). `refused` is synchronous (the hot path);
 * `failed` may settle later, and the adapter answers the failed attempt once it has, so that the next
 * attempt, on whichever worker, already meets the count.
 */
export interface LoginGuard {
  refused(kind: SourceKind, name: string): Refusal | undefined;
  failed(kind: SourceKind, name: string): void | Promise<void>;
}

export interface Refusal {
  /** Whole seconds to wait (Retry-After), at least 1. */
  retryAfterSeconds: number;
  /** Said to the agent: what is refused, for how long, what to do. */
  reason: string;
}

interface Bucket {
  level: number;
  at: number;
}

const MAX_SOURCES = 10_000;

export class LoginThrottle implements LoginGuard {
  readonly #opts: Required<Omit<LoginThrottleOptions, "onThrottled">> & Pick<LoginThrottleOptions, "onThrottled">;
  readonly #sources = new Map<string, Bucket>();
  readonly #overall: Bucket = { level: 0, at: 0 };
  /** After this instant every bucket has drained: the common case answers without building a key. */
  #quietFrom = 0;

  constructor(opts: LoginThrottleOptions) {
    this.#opts = { maxSources: MAX_SOURCES, now: Date.now, ...opts };
  }

  /** Why an attempt from this source is refused now, or undefined: ask before checking any credential. */
  refused(kind: SourceKind, name: string): Refusal | undefined {
    const { perSource, overall, windowMs, now: clock } = this.#opts;
    if (perSource <= 0) return undefined;
    const now = clock();
    if (now >= this.#quietFrom) return undefined;
    const { own, all } = this.#waits(kind, name, now);
    return refusal(kind, name, own, all, perSource, overall, windowMs);
  }

  /** How long this source's count, and the overall count (0 for a configured agent), refuse new attempts, in ms. */
  waits(kind: SourceKind, name: string): { own: number; all: number } {
    return this.#opts.perSource <= 0 ? { own: 0, all: 0 } : this.#waits(kind, name, this.#opts.now());
  }

  #waits(kind: SourceKind, name: string, now: number): { own: number; all: number } {
    const { perSource, overall, windowMs } = this.#opts;
    const b = this.#sources.get(key(kind, name));
    return { own: b ? waitMs(b, perSource, windowMs, now) : 0, all: kind === "agent" ? 0 : waitMs(this.#overall, overall, windowMs, now) };
  }

  /** Records a refused credential (a wrong token, SCRAM proof or JWT), never a missing one. */
  failed(kind: SourceKind, name: string): void {
    const { perSource, overall, windowMs, now: clock } = this.#opts;
    if (perSource <= 0) return;
    const now = clock();
    const k = key(kind, name);
    let own = this.#sources.get(k);
    if (!own) {
      if (this.#sources.size >= this.#opts.maxSources) this.#evict(now);
      own = { level: 0, at: now };
      this.#sources.set(k, own);
    }
    if (add(own, perSource, windowMs, now)) this.#opts.onThrottled?.({ kind, name, retry_after_s: Math.ceil(windowMs / perSource / 1000) });
    if (kind !== "agent" && add(this.#overall, overall, windowMs, now)) this.#opts.onThrottled?.({ kind: "overall", name: "", retry_after_s: Math.ceil(windowMs / overall / 1000) });
    // Attempts already under way when a limit is reached still count when they fail, so a level can pass its
    // limit (a burst of parallel guesses is paid for with a longer wait): quiet once every level has drained.
    const drained = Math.max((own.level * windowMs) / perSource, kind === "agent" ? 0 : (this.#overall.level * windowMs) / overall);
    this.#quietFrom = Math.max(this.#quietFrom, now + Math.ceil(drained));
  }

  /** Sources remembered now (tests; memory bound). */
  get size(): number {
    return this.#sources.size;
  }

  #evict(now: number): void {
    const { perSource, windowMs } = this.#opts;
    for (const [k, b] of this.#sources) if (drain(b, perSource, windowMs, now) === 0) this.#sources.delete(k);
    // All still counting: the oldest goes. Replacing sources needs failures, which the overall bucket bounds.
    while (this.#sources.size >= this.#opts.maxSources) this.#sources.delete(this.#sources.keys().next().value!);
  }
}

/** The refusal for waits of `ownWait` (this source's count) and `allWait` (the overall count) ms; none when both are over. */
export function refusal(kind: SourceKind, name: string, ownWait: number, allWait: number, perSource: number, overall: number, windowMs: number): Refusal | undefined {
  if (ownWait <= 0 && allWait <= 0) return undefined;
  const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(ownWait, allWait) / 1000));
  const what = ownWait >= allWait ? `${describe(kind, name)} failed to log in ${perSource} times within ${windowMs / 1000} s` : `agents failed to log in ${overall} times within ${windowMs / 1000} s`;
  return { retryAfterSeconds, reason: `${what}: new attempts are refused for ${retryAfterSeconds} s (a guard against guessing tokens). Retry then, with the token regate was given for this agent` };
}

function key(kind: SourceKind, name: string): string {
  return `${kind}\0${name}`;
}

function describe(kind: SourceKind, name: string): string {
  return kind === "address" ? `agents at ${name}` : `user "${name}"`;
}

/** The bucket's level now, drained at `limit` per `windowMs`. */
function drain(b: Bucket, limit: number, windowMs: number, now: number): number {
  b.level = Math.max(0, b.level - ((now - b.at) * limit) / windowMs);
  b.at = now;
  return b.level;
}

/** How long until one more failure fits; <= 0: it fits now. */
function waitMs(b: Bucket, limit: number, windowMs: number, now: number): number {
  const level = drain(b, limit, windowMs, now);
  const wait = ((level - (limit - 1)) * windowMs) / limit;
  // Draining in steps leaves rounding dust: under a millisecond is no wait.
  return wait < 1 ? 0 : wait;
}

/** Adds a failure; true when this one filled the bucket (the moment to log). */
function add(b: Bucket, limit: number, windowMs: number, now: number): boolean {
  const before = drain(b, limit, windowMs, now);
  b.level = before + 1;
  return before <= limit - 1 && b.level > limit - 1;
}
