import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { asError, RegateError } from "../errors.js";
import { budgetedPolicy } from "./budgeted.js";
import type { Bundle } from "./bundle.js";
import type { Spin } from "./eval-protocol.js";

/** Builtins the opa-wasm SDK implements in JavaScript; everything else must be native in the module. */
const SDK_BUILTINS = new Set(["sprintf", "json.is_valid", "regex.split", "yaml.marshal", "yaml.unmarshal", "yaml.is_valid"]);

/** 128 MiB of linear memory: an input that needs more fails that one evaluation, not the process. */
const MEMORY = { initial: 8, maximum: 2048 };

/** What system/log/mask gave for a decision evaluated together with it: its value, or why it failed. */
export type LogMaskOutcome = { ok: true; value: unknown } | { ok: false; error: RegateError };

export interface ActivePolicy {
  readonly revision: string;
  readonly entrypoints: ReadonlySet<string>;
  /** Returns the entrypoint's value, or undefined when the policy left it undefined. Throws RegateError. */
  evaluate(entrypoint: string, input: unknown): unknown;
  /**
   * Present when the bundle has system/log/mask and evaluating both together is cheaper than one after the
   * other (the budgeted worker: one hand-over instead of two). Evaluates `entrypoint` on the input's JSON,
   * then the mask over OPA's decision-log event `{input, decision_id, result}`. Throws as `evaluate` does for
   * the decision; `logMask` is absent when the mask was not evaluated (the caller then evaluates it alone).
   */
  evaluateLogged?(entrypoint: string, inputJson: string, decisionId: string): { result: unknown; logMask?: LogMaskOutcome };
  /** Releases what evaluation holds (the worker of a budgeted policy); called when it is swapped out. */
  close?(): void;
}

/**
 * policy.eval_timeout_ms's default (config/schema.ts says the same; a test keeps them equal), also the budget of
 * `regate eval` and `regate whatif`, which replay untried policies: a loop there should be reported, not waited for.
 */
export const DEFAULT_EVAL_TIMEOUT_MS = 1000;

export interface ActivateOptions {
  /** policy.eval_timeout_ms: above 0, evaluate on a worker thread within this budget (budgeted.ts). */
  evalTimeoutMs?: number;
  /** How long either side of the budgeted evaluation polls before sleeping (the benchmark compares settings). */
  evalSpin?: Spin;
}

/**
 * Compiles the bundle's module once, checks its imports, loads its data. Evaluation is synchronous;
 * one instance is single-threaded state, which is fine on Node's one JS thread. With a time budget the
 * checks still run here, and evaluation goes to a worker holding its own instance of the same module.
 */
export async function activate(bundle: Bundle, opts: ActivateOptions = {}): Promise<ActivePolicy> {
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bundle.wasm as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new RegateError("BUNDLE_INVALID", "policy.wasm does not compile", { cause: asError(cause) });
  }
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(module, MEMORY);
  } catch (cause) {
    throw new RegateError("BUNDLE_INVALID", "policy.wasm is not an OPA module", { cause: asError(cause) });
  }
  const missing = hostBuiltins(policy).filter((b) => !SDK_BUILTINS.has(b));
  if (missing.length > 0) {
    throw new RegateError(
      "BUNDLE_BUILTIN_UNSUPPORTED",
      `policy needs builtins the WASM target cannot run: ${missing.join(", ")}; build with --capabilities testdata/opa/wasm-capabilities.json`,
    );
  }
  try {
    policy.setData(bundle.data);
  } catch (cause) {
    throw new RegateError("BUNDLE_INVALID", "bundle data does not load", { cause: asError(cause) });
  }
  const names = new Set(Object.keys(policy.entrypoints as Record<string, number>));
  for (const declared of bundle.entrypoints) {
    if (!names.has(declared)) throw new RegateError("BUNDLE_INVALID", `manifest entrypoint ${declared} is not in policy.wasm`);
  }
  if (opts.evalTimeoutMs && opts.evalTimeoutMs > 0) {
    const seed = { module, data: Buffer.from(JSON.stringify(bundle.data)), memory: MEMORY, ...(opts.evalSpin ? { spin: opts.evalSpin } : {}) };
    return budgetedPolicy(bundle.revision, policy.entrypoints as Record<string, number>, seed, opts.evalTimeoutMs, firstResult);
  }
  return {
    revision: bundle.revision,
    entrypoints: names,
    evaluate(entrypoint, input) {
      let rs: unknown;
      try {
        rs = policy.evaluate(input, entrypoint);
      } catch (thrown) {
        throw new RegateError("POLICY_EVAL_FAILED", undefined, { cause: asError(thrown) });
      }
      return firstResult(rs);
    },
  };
}

/** The one value of a result set; strict, as an unexpected shape is a deny. */
function firstResult(rs: unknown): unknown {
  if (!Array.isArray(rs)) throw new RegateError("POLICY_RESULT_INVALID", "policy returned a non-array result set");
  if (rs.length === 0) return undefined;
  if (rs.length > 1) throw new RegateError("POLICY_RESULT_INVALID", "policy returned several results");
  const first = rs[0] as { result?: unknown } | null;
  if (!first || typeof first !== "object" || !("result" in first)) {
    throw new RegateError("POLICY_RESULT_INVALID", "policy result has no value");
  }
  return first.result;
}

/** The module's `builtins` export lists every builtin it calls out to the host for. */
function hostBuiltins(policy: LoadedPolicy): string[] {
  const exports = (policy.wasmInstance as WebAssembly.Instance).exports as Record<string, unknown>;
  const builtins = exports["builtins"] as (() => number) | undefined;
  const dump = exports["opa_json_dump"] as ((addr: number) => number) | undefined;
  if (!builtins || !dump) throw new RegateError("BUNDLE_INVALID", "policy.wasm lacks the OPA ABI exports");
  const addr = dump(builtins());
  const mem = new Uint8Array(policy.mem.buffer);
  let end = addr;
  while (end < mem.length && mem[end] !== 0) end++;
  const json = Buffer.from(mem.buffer, addr, end - addr).toString("utf8");
  return Object.keys(JSON.parse(json) as Record<string, number>);
}
