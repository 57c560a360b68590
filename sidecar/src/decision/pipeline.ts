import { randomUUID } from "node:crypto";
import { RegateError } from "../errors.js";
import { validateDecision, type ActivePolicy, type LogMaskOutcome } from "../policy/index.js";
import type { DecideOptions, Decider } from "./decider.js";
import { credentialOps } from "./credential-view.js";
import { applyMaskOps, parseMaskOps, type MaskOps } from "./log-mask.js";
import { LoggedEvent, type InputJson, type PolicyMask } from "./log-view.js";
import { noteLoggedView } from "./logged-decisions.js";
import { timeInput } from "./time.js";
import type { DecisionSink } from "./sink.js";
import { outcomeOf, type Decision, type PolicyInput } from "./types.js";

export interface PipelineOptions {
  /** The current policy; read per decision so a hot reload takes effect on the next one. */
  policy: () => ActivePolicy | undefined;
  entrypoint: string;
  dryRun: boolean;
  sinks: DecisionSink[];
  /** Evaluate the bundle's system/log/mask for what sinks see (costs a second evaluation; only logs need it). */
  logMask?: boolean;
}

const LOG_MASK_ENTRYPOINT = "system/log/mask";

/** input -> policy -> strict validation -> precedence -> sinks. Every failure is a deny. */
export class DecisionPipeline implements Decider {
  /**
   * What an evaluated decision's reuses share: the loaded policy that took it, the log-mask operations it was
   * logged with, and the policy value it stands for (with its JSON, made once). A decision is reused only
   * under that very policy: a revision string does not name one policy (`make bundle` twice on a dirty tree
   * gives two policies one revision), and the bundle that replaced it may decide otherwise. Kept for evaluated
   * decisions only: a reuse is never a prior itself (the adapters keep only evaluated decisions, and one handed
   * a reuse evaluates anew), so a reuse costs no entry here.
   */
  readonly #scopes = new WeakMap<Decision, Scope>();

  #reusedResult(scope: Scope, prior: Decision): { value: Readonly<Record<string, unknown>>; json: string } {
    if (!scope.result) {
      const value = Object.freeze(resultOf(prior));
      scope.result = { value, json: JSON.stringify(value) };
    }
    return scope.result;
  }

  constructor(private readonly opts: PipelineOptions) {}

  congested(): boolean {
    return this.opts.sinks.some((sink) => sink.full?.() === true);
  }

  decide(input: PolicyInput, options?: DecideOptions): Decision {
    const started = process.hrtime.bigint();
    const decision_id = randomUUID();
    const policy = this.opts.policy();
    let result: unknown;
    let inputJson: InputJson;
    let evalNs = 0;
    let logMask: LogMaskOutcome | undefined;
    let decision: Decision;
    let scope: Scope | undefined;
    try {
      if (!policy) throw new RegateError("POLICY_NOT_LOADED");
      // Back-pressure from a full export buffer. A preview is never logged, so it adds nothing to any buffer.
      if (!options?.preview) {
        for (const sink of this.opts.sinks) {
          const refusal = sink.admit?.();
          if (refusal) throw refusal;
        }
      }
      const prior = options?.reuse;
      const shared = prior && this.#scopes.get(prior);
      if (shared && shared.policy === policy && !this.opts.dryRun) {
        decision = reuseOf(shared, prior!, decision_id);
        result = this.#reusedResult(shared, prior!).value;
        return this.finish(started, input, options?.inputJson, policy, result, decision, 0, options, undefined, shared);
      }
      const given = options?.inputJson;
      const json = typeof given === "function" ? given() : (given ?? JSON.stringify(input));
      inputJson = json;
      const t0 = process.hrtime.bigint();
      if (policy.evaluateLogged && !options?.preview && this.#masksLog(policy)) {
        // Both evaluations in one pass (the budgeted worker); the timer then covers the mask's as well.
        ({ result, logMask } = policy.evaluateLogged(this.opts.entrypoint, json, decision_id));
      } else {
        result = policy.evaluate(this.opts.entrypoint, jsonBytes(json));
      }
      evalNs = Number(process.hrtime.bigint() - t0);
      const d = validateDecision(result);
      const outcome = outcomeOf(d);
      decision = {
        decision_id,
        outcome,
        reasons: outcome === "deny" ? (d.deny.length ? d.deny : ["not allowed by policy"]) : outcome === "approve" ? [d.approve!.reason] : [],
        mask: d.mask,
        dry_run: false,
        revision: policy.revision,
        ...(d.approve ? { approve: d.approve } : {}),
        ...(d.status !== undefined ? { status: d.status } : {}),
        ...(d.cache ? { cache: d.cache } : {}),
        ...(d.next_step ? { next_step: d.next_step } : {}),
      };
      this.#scopes.set(decision, (scope = { policy, inputChars: json.length }));
    } catch (err) {
      const e = err instanceof RegateError ? err : new RegateError("INTERNAL", undefined, { cause: err });
      decision = {
        decision_id,
        outcome: "deny",
        reasons: [e.message],
        mask: [],
        dry_run: false,
        revision: policy?.revision ?? "",
        error_code: e.code,
      };
    }
    return this.finish(started, input, inputJson, policy, result, decision, evalNs, options, logMask, scope);
  }

  #masksLog(policy: ActivePolicy | undefined): policy is ActivePolicy {
    return !!policy && this.opts.logMask !== false && policy.entrypoints.has(LOG_MASK_ENTRYPOINT);
  }

  private finish(
    started: bigint,
    input: PolicyInput,
    inputJson: InputJson,
    policy: ActivePolicy | undefined,
    result: unknown,
    decision: Decision,
    evalNs: number,
    options: DecideOptions | undefined,
    logMask: LogMaskOutcome | undefined,
    scope: Scope | undefined,
  ): Decision {
    if (options?.preview) return vetoed(decision, options);

    const reuse = decision.reused_from !== undefined;
    let mask: PolicyMask;
    let own: MaskOps | null | undefined;
    if (this.#masksLog(policy)) {
      // The operations are known now (a reuse's from its scope, an evaluated decision's from its evaluation),
      // or evaluated now, with the policy that decided: only applying them waits for a sink to read the view.
      mask = reuse ? scope?.ops : undefined;
      if (!mask && logMask) mask = logMask.ok ? parseMaskOps(logMask.value) : "failed";
      if (!mask) ({ mask, own, inputJson } = this.#evaluateMask(policy, input, inputJson, decision.decision_id, result));
      // Only an evaluated decision's operations serve its reuses (a reuse that had to evaluate them keeps them to itself).
      if (!reuse && scope && mask !== "failed") scope.ops = mask;
    }
    // A reused decision's result is the same value every time: its JSON is kept with its scope.
    const resultJson = reuse && scope?.result && result === scope.result.value ? scope.result.json : undefined;
    const inputChars = typeof inputJson === "string" ? inputJson.length : (scope?.inputChars ?? 2048);
    const metrics = { timer_rego_query_eval_ns: evalNs, timer_regate_decision_ns: 0 };
    // The input clock of this millisecond, formatted once for every decision that shares it.
    const event = new LoggedEvent(decision, this.opts.entrypoint, metrics, timeInput().rfc3339, { input, inputJson, result, resultJson, mask, own }, inputChars);
    // The veto (a recording written before the decision is logged) reads the logged view of the decision it
    // is asked about: a record must not keep what the log withholds (logged-decisions.ts).
    noteLoggedView(decision, event);
    const kept = vetoed(decision, options);
    if (kept !== decision) {
      decision = kept;
      event.decision = kept;
      noteLoggedView(kept, event);
    }
    if (this.opts.dryRun) event.decision = { ...decision, dry_run: true };
    metrics.timer_regate_decision_ns = Number(process.hrtime.bigint() - started);
    for (const sink of this.opts.sinks) sink.record(event);

    // Dry-run: the real decision is logged above; the request goes through unenforced.
    if (!this.opts.dryRun) return decision;
    const enforced: Decision = { ...decision, outcome: "allow", reasons: [], mask: [], dry_run: true };
    noteLoggedView(enforced, event);
    return enforced;
  }

  /**
   * The bundle's system.log.mask for an event whose operations are not known yet (an evaluated decision on the
   * direct engine; a reuse whose prior's mask failed), evaluated now over the input as regate's own credential
   * mask leaves it (credential-view.ts). Within a reuse scope the operations are evaluated once and applied to
   * every reuse: the mask policy, like the decision, must not depend on what the scope lets vary.
   */
  #evaluateMask(policy: ActivePolicy, input: PolicyInput, inputJson: InputJson, decisionId: string, result: unknown): { mask: PolicyMask; own: MaskOps | null; inputJson: InputJson } {
    const own = credentialOps(input) ?? null;
    let viewJson: string;
    if (own) {
      const doc: Record<string, unknown> = { input };
      applyMaskOps(doc, own);
      viewJson = JSON.stringify(doc["input"]);
    } else {
      inputJson = typeof inputJson === "function" ? inputJson() : (inputJson ?? JSON.stringify(input));
      viewJson = inputJson;
    }
    try {
      // The event is assembled around the input's JSON: the input is serialised once.
      const resultJson = result === undefined ? "" : `,"result":${JSON.stringify(result)}`;
      const doc = `{"input":${viewJson},"decision_id":${JSON.stringify(decisionId)}${resultJson}}`;
      return { mask: parseMaskOps(policy.evaluate(LOG_MASK_ENTRYPOINT, jsonBytes(doc))), own, inputJson };
    } catch {
      // A failing mask policy must not leak what it was meant to hide: log no input at all.
      return { mask: "failed", own, inputJson };
    }
  }
}

interface Scope {
  readonly policy: ActivePolicy;
  /** The evaluated input's JSON length: what a reuse's log line is reckoned at before its view is made. */
  readonly inputChars: number;
  ops?: MaskOps;
  result?: { value: Readonly<Record<string, unknown>>; json: string };
  /** The prior with every member a reuse has (`reused_from` last), made once: see reuseOf. */
  reuseShape?: Decision;
}

/**
 * `{ ...prior, decision_id, reused_from }`. Spreading an object and then adding members builds a new hidden
 * class on every call (about 1.2 µs, on every reused statement); copying the kept shape, which already has
 * both members (`reused_from` is the prior's id for every reuse of it), and assigning the new id does not
 * (about 60 ns). Same members, same order.
 */
function reuseOf(scope: Scope, prior: Decision, decision_id: string): Decision {
  const shape = (scope.reuseShape ??= { ...prior, reused_from: prior.decision_id });
  const d = { ...shape };
  d.decision_id = decision_id;
  return d;
}

const encoder = new TextEncoder();

/** opa-wasm takes an ArrayBuffer of JSON as is, instead of stringifying the input again itself. */
function jsonBytes(json: string): ArrayBuffer {
  const u = encoder.encode(json);
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? (u.buffer as ArrayBuffer) : (u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer);
}

/** The policy value a reused decision stands for, as the decision log shows it. */
function resultOf(d: Decision): Record<string, unknown> {
  return {
    allow: d.outcome !== "deny",
    deny: d.outcome === "deny" ? d.reasons : [],
    mask: d.mask,
    ...(d.approve ? { approve: d.approve } : {}),
    ...(d.status !== undefined ? { status: d.status } : {}),
    ...(d.cache ? { cache: d.cache } : {}),
    ...(d.next_step ? { next_step: d.next_step } : {}),
  };
}

/** The decision the adapter's veto leaves (budgets, COPY with masks, a recording that cannot be written): a refusal, or itself. */
function vetoed(d: Decision, options: DecideOptions | undefined): Decision {
  const veto = d.outcome !== "deny" && options?.veto ? options.veto(d) : undefined;
  if (!veto) return d;
  const { approve: _dropped, ...rest } = d;
  const { next_step: _step, ...kept } = rest;
  return { ...kept, outcome: "deny", reasons: [veto.reason], mask: [], error_code: veto.error_code };
}
