import { randomUUID } from "node:crypto";
import { RegateError } from "../errors.js";
import { validateDecision, type ActivePolicy, type LogMaskOutcome } from "../policy/index.js";
import type { DecideOptions, Decider } from "./decider.js";
import { credentialOps } from "./credential-view.js";
import { applyMaskOps, parseMaskOps, type MaskOps } from "./log-mask.js";
import { timeInput } from "./time.js";
import type { DecisionEvent, DecisionSink } from "./sink.js";
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
    let inputJson: string | undefined;
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
      inputJson = options?.inputJson ?? JSON.stringify(input);
      const t0 = process.hrtime.bigint();
      if (policy.evaluateLogged && !options?.preview && this.#masksLog(policy)) {
        // Both evaluations in one pass (the budgeted worker); the timer then covers the mask's as well.
        ({ result, logMask } = policy.evaluateLogged(this.opts.entrypoint, inputJson, decision_id));
      } else {
        result = policy.evaluate(this.opts.entrypoint, jsonBytes(inputJson));
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
      this.#scopes.set(decision, (scope = { policy }));
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
    inputJson: string | undefined,
    policy: ActivePolicy | undefined,
    result: unknown,
    decision: Decision,
    evalNs: number,
    options: DecideOptions | undefined,
    logMask: LogMaskOutcome | undefined,
    scope: Scope | undefined,
  ): Decision {
    if (decision.outcome !== "deny" && options?.veto) {
      const veto = options.veto(decision);
      if (veto) {
        const { approve: _dropped, ...rest } = decision;
        const { next_step: _step, ...kept } = rest;
        decision = { ...kept, outcome: "deny", reasons: [veto.reason], mask: [], error_code: veto.error_code };
      }
    }
    if (options?.preview) return decision;

    const event: DecisionEvent = {
      decision,
      path: this.opts.entrypoint,
      input,
      result,
      erased: [],
      masked: [],
      metrics: { timer_rego_query_eval_ns: evalNs, timer_regate_decision_ns: 0 },
      // The input clock of this millisecond, formatted once for every decision that shares it.
      timestamp: timeInput().rfc3339,
    };
    this.logView(event, policy, inputJson, scope, logMask);
    // A reused decision's result is the same value every time: its JSON is kept with its scope.
    if (decision.reused_from && scope?.result && event.result === scope.result.value) event.result_json = scope.result.json;
    if (this.opts.dryRun) event.decision = { ...decision, dry_run: true };
    event.metrics.timer_regate_decision_ns = Number(process.hrtime.bigint() - started);
    for (const sink of this.opts.sinks) sink.record(event);

    // Dry-run: the real decision is logged above; the request goes through unenforced.
    return this.opts.dryRun ? { ...decision, outcome: "allow", reasons: [], mask: [], dry_run: true } : decision;
  }

  /**
   * Applies the bundle's system.log.mask, if it has one, to what `event` logs (a copy: the adapter's input is
   * left alone). Within a reuse scope (a decision the policy declared reusable) the mask is evaluated once and
   * its operations are applied to every reuse: the mask policy, like the decision, must not depend on what
   * the scope lets vary. `scope` is the evaluated decision's own, or, for a reuse, its prior's.
   */
  private logView(event: DecisionEvent, policy: ActivePolicy | undefined, inputJson: string | undefined, scope: Scope | undefined, evaluated: LogMaskOutcome | undefined): void {
    // regate's own mask, whatever the policy's: credentials an agent typed into a statement (credential-view.ts).
    // Applied first (the policy's operations, found on the same input, may remove array members), and the
    // input's JSON, which still holds them, is not logged.
    const own = credentialOps(event.input);
    if (own) {
      const doc: Record<string, unknown> = { input: event.input };
      event.masked = applyMaskOps(doc, own).masked;
      event.input = doc["input"] as PolicyInput;
      inputJson = undefined;
    }
    if (!this.#masksLog(policy)) {
      if (inputJson !== undefined) event.input_json = inputJson;
      return;
    }
    const decision = event.decision;
    const reuse = decision.reused_from !== undefined;
    let ops = reuse ? scope?.ops : undefined;
    // Evaluated together with the decision: a failing mask policy must not leak what it was meant to hide.
    if (!ops && evaluated) {
      if (!evaluated.ok) return unlogged(event);
      ops = parseMaskOps(evaluated.value);
    }
    if (!ops) {
      inputJson ??= JSON.stringify(event.input);
      try {
        // The event is assembled around the input's JSON from the decision: the input is serialised once.
        const resultJson = event.result === undefined ? "" : `,"result":${JSON.stringify(event.result)}`;
        const doc = `{"input":${inputJson},"decision_id":${JSON.stringify(decision.decision_id)}${resultJson}}`;
        ops = parseMaskOps(policy.evaluate(LOG_MASK_ENTRYPOINT, jsonBytes(doc)));
      } catch {
        // A failing mask policy must not leak what it was meant to hide: log no input at all.
        return unlogged(event);
      }
    }
    // Only an evaluated decision's operations serve its reuses (a reuse that had to evaluate them keeps them to itself).
    if (!reuse && scope) scope.ops = ops;
    if (ops.erase.length === 0 && ops.upsert.length === 0) {
      if (inputJson !== undefined) event.input_json = inputJson;
      return;
    }
    const doc: Record<string, unknown> = { input: event.input, result: event.result };
    const { erased, masked } = applyMaskOps(doc, ops);
    event.input = doc["input"] as PolicyInput;
    event.result = doc["result"];
    event.erased = erased;
    event.masked = event.masked.length === 0 ? masked : [...event.masked, ...masked];
  }
}

interface Scope {
  readonly policy: ActivePolicy;
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

/** The event of a decision whose log mask failed: no input at all. */
function unlogged(event: DecisionEvent): void {
  event.input = {} as PolicyInput;
  event.input_json = "{}";
  event.erased = ["/input"];
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
