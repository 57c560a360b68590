import { DecisionPipeline, type PolicyInput } from "../decision/index.js";
import type { ActivePolicy } from "../policy/index.js";
import { principalOf, statementOf } from "./describe.js";
import type { LoggedLine } from "./read.js";
import { Grouper, type Example, type Report } from "./report.js";
import { CHANGE_KINDS, compare, fromDecision, fromLogged, sameVerdict, type ChangeKind, type Verdict } from "./verdict.js";

export interface AnalysisOptions {
  candidate: { bundle: string; policy: ActivePolicy };
  baseline?: { bundle: string; policy: ActivePolicy };
  /** Examples kept per group. */
  examples: number;
}

const DEFAULT_ENTRYPOINT = "regate/decision";

/**
 * Re-decides logged inputs with the candidate (and the baseline) through the sidecar's own pipeline: same
 * engine, same strict validation, same precedence and error folding. No sinks, no decision-log mask.
 */
export class Analysis {
  readonly #opts: AnalysisOptions;
  readonly #deciders = new Map<string, DecisionPipeline>();
  readonly #changes = new Map<ChangeKind, { count: number; byReason: Grouper; byPrincipal: Grouper }>();
  readonly #report: Report;

  constructor(opts: AnalysisOptions) {
    this.#opts = opts;
    this.#report = {
      candidate: { bundle: opts.candidate.bundle, revision: opts.candidate.policy.revision },
      baseline: opts.baseline ? { bundle: opts.baseline.bundle, revision: opts.baseline.policy.revision } : "logged decisions",
      decisions: 0,
      lines_skipped: 0,
      compared: 0,
      unchanged: 0,
      changes: {},
      partial_input: { count: 0, changes: {}, examples: [] },
      not_reproducible: { count: 0, examples: [] },
      unusable: { count: 0, examples: [] },
    };
  }

  add({ event, at }: LoggedLine): void {
    const r = this.#report;
    r.decisions++;
    const logged = fromLogged(event);
    const input = event["input"];
    if (!logged || !input || typeof input !== "object") {
      r.unusable.count++;
      if (r.unusable.examples.length < this.#opts.examples) r.unusable.examples.push({ at, why: logged ? "no input in the event" : "no regate outcome in the event" });
      return;
    }
    const entrypoint = typeof event["path"] === "string" ? event["path"] : DEFAULT_ENTRYPOINT;
    const example: Example = { decision_id: String(event["decision_id"] ?? ""), at, principal: principalOf(input), statement: statementOf(input) };
    const candidate = this.#decide("candidate", entrypoint, input as PolicyInput);
    const baseline = this.#opts.baseline ? this.#decide("baseline", entrypoint, input as PolicyInput) : logged;
    const reproduced = sameVerdict(baseline, logged);
    const change = compare(baseline, candidate);

    const erased = strings(event["erased"]);
    const masked = strings(event["masked"]);
    if (erased.length || masked.length) {
      const p = r.partial_input;
      p.count++;
      if (change) p.changes[change.kind] = (p.changes[change.kind] ?? 0) + 1;
      if (p.examples.length < this.#opts.examples) p.examples.push({ ...example, erased, masked, reproduced, ...(change ? { change: change.kind } : {}) });
      return;
    }
    if (!reproduced) {
      const n = r.not_reproducible;
      n.count++;
      if (n.examples.length < this.#opts.examples) n.examples.push({ ...example, logged_revision: loggedRevision(event), logged, baseline });
      return;
    }
    r.compared++;
    if (!change) {
      r.unchanged++;
      return;
    }
    let group = this.#changes.get(change.kind);
    if (!group) this.#changes.set(change.kind, (group = { count: 0, byReason: new Grouper(this.#opts.examples), byPrincipal: new Grouper(this.#opts.examples) }));
    group.count++;
    for (const reason of change.reasons) group.byReason.add(reason, example);
    group.byPrincipal.add(example.principal, example);
  }

  skipped(lines: number): void {
    this.#report.lines_skipped += lines;
  }

  /** The report so far; changes listed in CHANGE_KINDS order. */
  report(): Report {
    const changes: Report["changes"] = {};
    for (const kind of CHANGE_KINDS) {
      const g = this.#changes.get(kind);
      if (g) changes[kind] = { count: g.count, by_reason: g.byReason.list(), by_principal: g.byPrincipal.list() };
    }
    return { ...this.#report, changes };
  }

  #decide(which: "candidate" | "baseline", entrypoint: string, input: PolicyInput): Verdict {
    const key = `${which} ${entrypoint}`;
    let decider = this.#deciders.get(key);
    if (!decider) {
      const policy = this.#opts[which]!.policy;
      decider = new DecisionPipeline({ policy: () => policy, entrypoint, dryRun: false, sinks: [], logMask: false });
      this.#deciders.set(key, decider);
    }
    return fromDecision(decider.decide(input));
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function loggedRevision(event: Record<string, unknown>): string {
  const bundles = event["bundles"];
  if (!bundles || typeof bundles !== "object") return "";
  return Object.values(bundles as Record<string, { revision?: unknown }>)
    .map((b) => String(b?.revision ?? ""))
    .join(",");
}
