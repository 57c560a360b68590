// The wire between the main thread and the policy evaluation worker (budgeted.ts, eval-worker.ts): one
// Int32Array of control words and one byte buffer, both shared memory. Strict alternation: the main thread
// writes a request and waits; the worker answers and waits. One request may carry two evaluations (the
// decision, then system/log/mask over it), so a decision costs one hand-over. Nothing here allocates per evaluation.
import type { MessagePort } from "node:worker_threads";

/** Control word indexes. */
export const STATE = 0;
/** Entrypoint id (the module's numbering) of the request. */
export const ENTRYPOINT = 1;
/** Bytes of the request's input, then of the answer, at the start of the data buffer. */
export const LENGTH = 2;
/** How the answer reads: ANSWER_OK (result-set JSON) or ANSWER_ERROR (an error message). */
export const ANSWER = 3;
/** Generation of the data buffer: bumped by whichever side replaced it (sent over the port). */
export const GENERATION = 4;
/**
 * Entrypoint id of system/log/mask to evaluate right after the request's entrypoint, in the same hand-over;
 * NO_MASK: none. Its input, OPA's decision-log event, is assembled by the worker as
 * `{"input":<input>` + MIDDLE + `,"result":<the decision's result>}`.
 */
export const MASK_ENTRYPOINT = 5;
/** Bytes of the request that follow the input in the data buffer: the event's middle (`,"decision_id":"..."`). */
export const MIDDLE_LENGTH = 6;
/** Set by the worker once the first answer is in the buffer: a mask evaluation that overruns does not cost the decision. */
export const DECIDED = 7;
/** How the mask answer reads (ANSWER_OK / ANSWER_ERROR / ANSWER_NONE), and its bytes, right after the first answer. */
export const MASK_ANSWER = 8;
export const MASK_LENGTH = 9;
export const CONTROL_WORDS = 16;

export const NO_MASK = -1;

/** Values of STATE. */
export const LOADING = 0;
export const IDLE = 1;
export const REQUEST = 2;
export const DONE = 3;
/** The worker could not load the policy; the data buffer holds why. */
export const FAILED = 4;

export const ANSWER_OK = 0;
export const ANSWER_ERROR = 1;
/** No mask answer: none was asked, or the decision itself failed (the caller evaluates the mask alone). */
export const ANSWER_NONE = 2;

/** First data buffer: a typical input (2-4 KiB) and its result fit many times over. */
export const INITIAL_DATA_BYTES = 256 * 1024;
/** No input or answer may pass this: the policy's linear memory is 128 MiB at most anyway. */
export const MAX_DATA_BYTES = 128 * 1024 * 1024;

/** What the worker is started with (workerData). */
export interface WorkerBoot {
  module: WebAssembly.Module;
  /** The bundle's data document as JSON bytes. */
  data: Uint8Array;
  memory: { initial: number; maximum: number };
  control: SharedArrayBuffer;
  buffer: SharedArrayBuffer;
  port: MessagePort;
  /** Spin.worker */
  spinMs: number;
}

/**
 * Milliseconds each side polls the STATE word before it sleeps in Atomics.wait: the main thread for the
 * answer, the worker for the next request. Sleeping and being woken costs tens of microseconds, about what
 * an evaluation takes; but polling holds a core meanwhile, which the other thread may be waiting for.
 */
export interface Spin {
  main: number;
  worker: number;
}

/**
 * No polling: on the loaded 2-core build machine the main thread polling 0.1 ms made a decision cost +53 us
 * instead of +24 us, and the worker polling too +118 us (sidecar/bench/eval-budget.ts, docs/benchmarks.md).
 */
export const DEFAULT_SPIN: Spin = { main: 0, worker: 0 };

/** Sent over the port when one side outgrew the data buffer; the other side adopts it. */
export interface NewBuffer {
  buffer: SharedArrayBuffer;
  generation: number;
}

/** Room for `need` bytes: ~1.5x growth, so a run of growing inputs reallocates a few times only. */
export function grownSize(current: number, need: number): number {
  return Math.min(MAX_DATA_BYTES, Math.max(need, Math.ceil(current * 1.5), Math.ceil(need * 1.25)));
}
