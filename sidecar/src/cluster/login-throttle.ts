import { refusal, type LoginGuard, type LoginThrottle, type Refusal, type SourceKind } from "../identity/index.js";
import type { Logger } from "../log.js";
import type { FailureReport, LoginLimits, ThrottledChange } from "./login-throttle-primary.js";
import type { PrimaryOp, WorkerOp } from "./messages.js";

/** What the worker's end of the IPC channel offers (link.ts). */
export interface LoginThrottleLink {
  request<T>(op: PrimaryOp, body?: unknown, timeoutMs?: number): Promise<T>;
  handle(op: WorkerOp, fn: (body: any) => unknown): void;
}

/** How long a failed attempt's answer waits for the primary to count it; then this worker counts alone. */
export const LOGIN_REPORT_TIMEOUT_MS = 2_000;
/** How long the primary waits for every worker to learn a throttled source (under the above). */
export const LOGIN_SHARE_TIMEOUT_MS = 1_000;
/** After the primary failed to answer, failures are kept for the next report this long before it is asked again. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Throttled sources this worker mirrors at most, and failures it keeps for the primary while it is away. */
const MAX_MIRRORED = 10_000;
const MAX_UNSENT = 1_000;

const keyOf = (kind: SourceKind, name: string) => `${kind}\0${name}`;

/**
 * Failed agent logins across workers (docs/workers.md): the primary counts them (login-throttle-primary.ts);
 * this worker mirrors what it refuses (each throttled source with the instant it is let in again) and
 * asks nothing while no source is throttled: `refused` is a clock read and a compare on the hot path, and a
 * successful login costs no IPC. A failure is reported, and its attempt answered once the primary has counted
 * it and given every worker what it now refuses. A primary that does not answer: this worker also refuses by
 * its own count at `limit / N` of each limit (the share `local` holds), as it did alone, until a report gets
 * through; what it counted meanwhile is reported then.
 */
export class ClusterLoginThrottle implements LoginGuard {
  /** Throttled sources, by kind\0name: refused until then. */
  readonly #mirror = new Map<string, number>();
  #overallUntil = 0;
  /** Past this instant nothing mirrored refuses anything. */
  #quietUntil = 0;
  /** Why the primary could not be reached, while it cannot. */
  #unreachable: string | undefined;
  #failedAt = 0;
  #retry: NodeJS.Timeout | undefined;
  readonly #unsent = new Map<string, FailureReport["failures"][number]>();

  constructor(
    private readonly link: LoginThrottleLink,
    private readonly limits: LoginLimits,
    private readonly local: LoginThrottle,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    link.handle("logins.throttled", (c: ThrottledChange) => this.#apply(c));
  }

  /** Reads what the primary refuses now (a worker that restarts); until it answers, this worker's share applies. */
  start(): this {
    this.#unreachable ??= "the cluster primary has not yet said which sources are throttled";
    this.link.request<ThrottledChange>("logins.snapshot", {}, LOGIN_REPORT_TIMEOUT_MS).then(
      (c) => {
        this.#apply(c);
        this.#unreachable = undefined;
      },
      (err: unknown) => this.#lost(err),
    );
    return this;
  }

  refused(kind: SourceKind, name: string): Refusal | undefined {
    if (this.#unreachable !== undefined) {
      const own = this.local.refused(kind, name);
      if (own) return own;
    }
    const now = this.now();
    if (now >= this.#quietUntil) {
      // Everything mirrored has run out: forgotten at once, so memory follows what is throttled now.
      if (this.#mirror.size) this.#mirror.clear();
      return undefined;
    }
    const own = (this.#mirror.get(keyOf(kind, name)) ?? 0) - now;
    const all = kind === "agent" ? 0 : this.#overallUntil - now;
    return refusal(kind, name, own, all, this.limits.per_source, this.limits.overall, this.limits.window_ms);
  }

  failed(kind: SourceKind, name: string): Promise<void> | undefined {
    if (this.limits.per_source <= 0) return undefined;
    // Counted here too, so that the share is ready the moment the primary stops answering.
    this.local.failed(kind, name);
    const k = keyOf(kind, name);
    const kept = this.#unsent.get(k);
    if (kept) kept.n++;
    else if (this.#unsent.size < MAX_UNSENT) this.#unsent.set(k, { kind, name, n: 1 });
    // Past the bound the share counts alone; the overall count, which the primary also keeps, bounds the rest.
    if (this.#unreachable !== undefined && this.now() - this.#failedAt < RETRY_AFTER_FAILURE_MS) return undefined;
    return this.#report();
  }

  /** Whether the primary cannot be reached now (this worker's share refuses too). */
  get unreachable(): boolean {
    return this.#unreachable !== undefined;
  }

  /** Sources mirrored now (tests; memory bound). */
  get size(): number {
    return this.#mirror.size;
  }

  #report(): Promise<void> {
    const failures = [...this.#unsent.values()];
    this.#unsent.clear();
    return this.link.request<ThrottledChange | undefined>("logins.failed", { at: this.now(), limits: this.limits, failures } satisfies FailureReport, LOGIN_REPORT_TIMEOUT_MS).then(
      (c) => {
        // Every worker has it already (the primary shares before it answers); this one too, unless it was restarting.
        if (c) this.#apply(c);
        if (this.#unreachable !== undefined) this.log.info("the cluster primary counts failed agent logins again");
        this.#unreachable = undefined;
      },
      (err: unknown) => {
        for (const f of failures) {
          const kept = this.#unsent.get(keyOf(f.kind, f.name));
          if (kept) kept.n += f.n;
          else if (this.#unsent.size < MAX_UNSENT) this.#unsent.set(keyOf(f.kind, f.name), f);
        }
        this.#lost(err);
      },
    );
  }

  #lost(err: unknown): void {
    if (this.#unreachable === undefined) this.log.warn({ err }, "the cluster primary did not count a failed agent login; this worker also refuses by its own count, at its share of each limit, until it does");
    this.#unreachable = err instanceof Error ? err.message : String(err);
    this.#failedAt = this.now();
    // Asked again without waiting for another failure: what was kept reaches the primary, and the share stops.
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined;
      if (this.#unsent.size) void this.#report();
      else this.start();
    }, RETRY_AFTER_FAILURE_MS).unref();
  }

  #apply(c: ThrottledChange): true {
    const now = this.now();
    for (const [kind, name, until] of c.sources) {
      if (until <= now) continue;
      const k = keyOf(kind, name);
      if (!this.#mirror.has(k) && this.#mirror.size >= MAX_MIRRORED) this.#evict(now);
      this.#mirror.set(k, Math.max(until, this.#mirror.get(k) ?? 0));
      this.#quietUntil = Math.max(this.#quietUntil, until);
    }
    if (c.overall_until > now) {
      this.#overallUntil = Math.max(this.#overallUntil, c.overall_until);
      this.#quietUntil = Math.max(this.#quietUntil, c.overall_until);
    }
    return true;
  }

  #evict(now: number): void {
    for (const [k, until] of this.#mirror) if (until <= now) this.#mirror.delete(k);
    // All still refused: the soonest to run out goes first is not worth a sort; the oldest goes.
    while (this.#mirror.size >= MAX_MIRRORED) this.#mirror.delete(this.#mirror.keys().next().value!);
  }
}
