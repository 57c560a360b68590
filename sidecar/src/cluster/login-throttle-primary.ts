import { LoginThrottle, type SourceKind } from "../identity/index.js";
import type { Logger } from "../log.js";

/** The configured limits (agents.failed_logins), as every worker sends them: the primary reads no config. */
export interface LoginLimits {
  per_source: number;
  overall: number;
  window_ms: number;
}

/** A worker's `logins.failed`: the failures it saw since its last report that got through. */
export interface FailureReport {
  /** When the worker sent it (ms since the epoch): one it has stopped waiting for is sent again, not counted here. */
  at: number;
  limits: LoginLimits;
  failures: { kind: SourceKind; name: string; n: number }[];
}

/** Sources refused until an instant (ms since the epoch; one host, one clock), and the overall count's. */
export interface ThrottledChange {
  sources: [kind: SourceKind, name: string, until: number][];
  overall_until: number;
}

/** Throttled sources remembered for workers that start (the throttle's own bound). */
const MAX_THROTTLED = 10_000;

/**
 * The primary's count of failed agent logins (workers > 1): the one LoginThrottle of the cluster, at the
 * configured limits. Each failure a worker reports is counted here; a source it throttles is given to every
 * worker (with the instant it is let in again, which further failures alone move) before the worker
 * that reported it is answered.
 */
export class LoginThrottlePrimary {
  #throttle: LoginThrottle | undefined;
  #limits: LoginLimits | undefined;
  /** What workers were told, for one that starts (logins.snapshot). */
  readonly #throttled = new Map<string, { kind: SourceKind; name: string; until: number }>();
  #overallUntil = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts the failures; what every worker must now refuse, or undefined when nothing new is refused. */
  failed(report: FailureReport, staleAfterMs: number): ThrottledChange | undefined {
    const now = this.now();
    // Read late (the primary was busy or stopped): the worker counts these as unreported and sends them again.
    if (now - report.at >= staleAfterMs) throw new Error(`failed logins reported ${now - report.at} ms ago were not counted; they are sent again`);
    const throttle = this.#for(report.limits);
    const sources: ThrottledChange["sources"] = [];
    let overallUntil = 0;
    for (const f of report.failures) {
      for (let i = 0; i < f.n; i++) throttle.failed(f.kind, f.name);
      const { own, all } = throttle.waits(f.kind, f.name);
      if (own > 0) {
        const until = now + Math.ceil(own);
        sources.push([f.kind, f.name, until]);
        this.#remember(f.kind, f.name, until, now);
      }
      if (all > 0) overallUntil = Math.max(overallUntil, now + Math.ceil(all));
    }
    if (overallUntil > 0) this.#overallUntil = Math.max(this.#overallUntil, overallUntil);
    return sources.length || overallUntil ? { sources, overall_until: overallUntil } : undefined;
  }

  /** Every source refused now, for a worker that starts. */
  snapshot(): ThrottledChange {
    const now = this.now();
    const sources: ThrottledChange["sources"] = [];
    for (const [k, t] of this.#throttled) {
      if (t.until > now) sources.push([t.kind, t.name, t.until]);
      else this.#throttled.delete(k);
    }
    return { sources, overall_until: this.#overallUntil > now ? this.#overallUntil : 0 };
  }

  #for(limits: LoginLimits): LoginThrottle {
    const same = this.#limits && this.#limits.per_source === limits.per_source && this.#limits.overall === limits.overall && this.#limits.window_ms === limits.window_ms;
    if (this.#throttle && same) return this.#throttle;
    // Workers read one config; other limits (a worker restarted after the file changed) start a count of their own.
    this.#limits = limits;
    this.#throttled.clear();
    this.#overallUntil = 0;
    return (this.#throttle = new LoginThrottle({
      perSource: limits.per_source,
      overall: limits.overall,
      windowMs: limits.window_ms,
      now: this.now,
      onThrottled: (e) =>
        this.log.warn(
          { event: "agent_logins_throttled", source: e.kind, ...(e.name ? { name: e.name } : {}), retry_after_s: e.retry_after_s },
          e.kind === "overall" ? "too many failed agent logins overall (all workers); attempts not as a configured Postgres agent are refused until the count drains" : "too many failed agent logins from one source (all workers); its attempts are refused until the count drains",
        ),
    }));
  }

  #remember(kind: SourceKind, name: string, until: number, now: number): void {
    const k = `${kind}\0${name}`;
    if (!this.#throttled.has(k) && this.#throttled.size >= MAX_THROTTLED) {
      for (const [old, t] of this.#throttled) if (t.until <= now) this.#throttled.delete(old);
      while (this.#throttled.size >= MAX_THROTTLED) this.#throttled.delete(this.#throttled.keys().next().value!);
    }
    this.#throttled.delete(k);
    this.#throttled.set(k, { kind, name, until });
  }
}
