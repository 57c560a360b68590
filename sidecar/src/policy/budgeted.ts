// policy.eval_timeout_ms: evaluation on a worker thread, with a time budget the main thread enforces.
//
// WASM evaluation is synchronous and cannot be interrupted from the thread running it, so a policy that
// loops (Rego terminates, but can take seconds over a large comprehension) would hold every session on
// Node's one JavaScript thread. Here the main thread hands the input to a worker holding its own instance of
// the same module and blocks on Atomics.wait for the answer, at most the budget. Past it the decision is a
// fail-closed deny (POLICY_EVAL_TIMEOUT), the worker is terminated (which does stop WASM), and a spare
// worker, loaded beforehand, takes over at once: the sessions queued behind the overrun are served by it
// instead of waiting for a worker to start (tens to hundreds of ms). A new spare is started in the background.
import { RegateError } from "../errors.js";
import type { ActivePolicy, LogMaskOutcome } from "./engine.js";
import { EvalThread, type EvalAnswer, type EvalRequest, type EvalSeed } from "./eval-thread.js";

const LOG_MASK_ENTRYPOINT = "system/log/mask";

/** How long a fresh worker may take to load the policy at activation before the bundle is refused. */
const LOAD_TIMEOUT_MS = 30_000;

export interface BudgetedPolicy extends ActivePolicy {
  /** Terminates the worker; evaluations after it are refused. */
  close(): void;
}

/**
 * Starts the worker for a bundle already checked on the main thread and resolves once it has loaded the
 * policy: the store swaps it in only then, so the first decision after a reload never waits for a worker.
 */
export async function budgetedPolicy(
  revision: string,
  entrypointIds: Readonly<Record<string, number>>,
  seed: EvalSeed,
  timeoutMs: number,
  /** Reads an evaluation's result set the way the direct engine does. */
  firstResult: (rs: unknown) => unknown,
): Promise<BudgetedPolicy> {
  let thread = new EvalThread(seed);
  let spare = new EvalThread(seed);
  try {
    await Promise.all([thread.ready(LOAD_TIMEOUT_MS), spare.ready(LOAD_TIMEOUT_MS)]);
  } catch (err) {
    thread.terminate();
    spare.terminate();
    throw err;
  }
  let closed = false;
  const maskId = entrypointIds[LOG_MASK_ENTRYPOINT];
  return {
    revision,
    entrypoints: new Set(Object.keys(entrypointIds)),
    evaluate(entrypoint, input) {
      const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input instanceof Uint8Array ? input : JSON.stringify(input);
      return firstResult(parse(run(entrypoint, { entrypoint: idOf(entrypoint), input: bytes })));
    },
    // One hand-over for both evaluations a logged decision needs (the worker assembles the mask's event).
    ...(maskId === undefined
      ? {}
      : {
          evaluateLogged(entrypoint: string, inputJson: string, decisionId: string) {
            const middle = `,"decision_id":${JSON.stringify(decisionId)}`;
            const outcome = run(entrypoint, { entrypoint: idOf(entrypoint), input: inputJson, mask: { entrypoint: maskId, middle } });
            const result = firstResult(parse(outcome));
            if (!outcome.mask) return { result };
            let logMask: LogMaskOutcome;
            try {
              logMask = { ok: true, value: firstResult(parse(outcome.mask)) };
            } catch (err) {
              logMask = { ok: false, error: err as RegateError };
            }
            return { result, logMask };
          },
        }),
    close() {
      closed = true;
      thread.terminate();
      spare.terminate();
    },
  };

  function idOf(entrypoint: string): number {
    if (closed) throw new RegateError("POLICY_NOT_LOADED", `policy revision ${revision} was replaced; evaluate with the active one`);
    const id = entrypointIds[entrypoint];
    if (id === undefined) throw new RegateError("POLICY_EVAL_FAILED", `entrypoint ${entrypoint} is not in the bundle`);
    return id;
  }

  /** One hand-over within the budget; an overrun replaces the worker. */
  function run(entrypoint: string, req: EvalRequest) {
    // A worker that died between decisions (it should not) is replaced before it is asked.
    if (thread.exited) thread = next();
    const outcome = thread.evaluate(req, performance.now() + timeoutMs);
    if (outcome === "loading") {
      throw new RegateError(
        "POLICY_EVAL_RESTARTING",
        `the policy evaluator is restarting after an evaluation ran past policy.eval_timeout_ms (${timeoutMs} ms) and was not ready within it`,
      );
    }
    if (outcome === "timeout" || outcome.overran) {
      thread.terminate();
      thread = next();
    }
    if (outcome === "timeout") {
      throw new RegateError("POLICY_EVAL_TIMEOUT", `policy evaluation of ${entrypoint} ran past policy.eval_timeout_ms (${timeoutMs} ms) and was stopped`);
    }
    return outcome;
  }

  /** The spare takes over (it may still be loading if overruns come fast); a new spare starts loading. */
  function next(): EvalThread {
    const promoted = spare.exited ? new EvalThread(seed) : spare;
    spare = new EvalThread(seed);
    return promoted;
  }
}

function parse(answer: EvalAnswer): unknown {
  if (!answer.ok) throw answer.error;
  try {
    return JSON.parse(answer.json);
  } catch (cause) {
    throw new RegateError("POLICY_RESULT_INVALID", "policy returned a result that is not JSON", { cause });
  }
}
