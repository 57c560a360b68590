// One policy evaluation worker seen from the main thread: started with the bundle's compiled module and
// data, called synchronously through shared memory (eval-protocol.ts), replaced by a fresh one when an
// evaluation overruns the budget. Used by budgeted.ts; knows nothing of decisions.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { RegateError } from "../errors.js";
import * as P from "./eval-protocol.js";

/** What a worker is started from; kept to start a fresh one after a timeout. */
export interface EvalSeed {
  module: WebAssembly.Module;
  data: Uint8Array;
  memory: { initial: number; maximum: number };
  /** How long each side polls before it sleeps (eval-protocol.ts, Spin); default DEFAULT_SPIN. */
  spin?: P.Spin;
}

/** One answer of the worker: the result-set JSON, or why the evaluation failed. */
export type EvalAnswer = { ok: true; json: string } | { ok: false; error: RegateError };

/** The decision's answer, and the log mask's when one was asked for and evaluated. */
export type EvalOutcome = EvalAnswer & {
  mask?: EvalAnswer;
  /** The mask evaluation ran past the deadline after the decision was in: the caller replaces this worker. */
  overran?: true;
};

export interface EvalRequest {
  entrypoint: number;
  /** JSON: a string is encoded straight into shared memory (no intermediate copy). */
  input: Uint8Array | string;
  /** Evaluate this entrypoint (system/log/mask) next, over `{"input":<input><middle>,"result":<result>}`. */
  mask?: { entrypoint: number; middle: string };
}

/**
 * Compiled (dist/), the worker is the .js file beside this one. From source (tsx, vitest) it is the .ts file,
 * and Node 20 does not apply a loader given with --import to a worker's entry module: a two-line bootstrap
 * registers tsx inside the worker first, then imports it.
 */
function workerEntry(): { code: string | URL; eval: boolean } {
  const js = new URL("./eval-worker.js", import.meta.url);
  if (existsSync(js)) return { code: js, eval: false };
  const ts = new URL("./eval-worker.ts", import.meta.url).href;
  const tsxRoot = dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
  const tsx = pathToFileURL(join(tsxRoot, "dist", "esm", "api", "index.mjs")).href; // the "import" side of tsx/esm/api
  return { code: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); });`, eval: true };
}

export class EvalThread {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #port: MessagePort;
  #data: Uint8Array;
  /** The same memory as #data, for Buffer's UTF-8 write and read. */
  #bytes: Buffer;
  #generation = 0;
  #exited = false;
  #failure: string | undefined;
  readonly #spinMs: number;

  constructor(seed: EvalSeed) {
    const control = new SharedArrayBuffer(P.CONTROL_WORDS * 4);
    const buffer = new SharedArrayBuffer(P.INITIAL_DATA_BYTES);
    const { port1, port2 } = new MessageChannel();
    const entry = workerEntry();
    const spin = seed.spin ?? P.DEFAULT_SPIN;
    this.#spinMs = spin.main;
    const boot: P.WorkerBoot = { module: seed.module, data: seed.data, memory: seed.memory, control, buffer, port: port2, spinMs: spin.worker };
    this.#worker = new Worker(entry.code, { eval: entry.eval, workerData: boot, transferList: [port2] });
    // Neither keeps the process alive: shutdown must not wait for an idle evaluator.
    this.#worker.unref();
    port1.unref();
    // Followed by "exit": the next evaluation starts a fresh worker.
    this.#worker.on("error", (err) => (this.#failure = err.message));
    this.#worker.on("exit", () => (this.#exited = true));
    this.#control = new Int32Array(control);
    this.#port = port1;
    this.#data = new Uint8Array(buffer);
    this.#bytes = Buffer.from(buffer);
  }

  /** The worker is gone (crashed or terminated): a fresh one must be started. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Resolves once the worker loaded the policy; rejects with the reason it could not. */
  async ready(timeoutMs: number): Promise<void> {
    // Polled: activation is rare, and a timer (unlike a pending Atomics.waitAsync) keeps the process alive.
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.#control, P.STATE) === P.LOADING && !this.#exited && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    const state = Atomics.load(this.#control, P.STATE);
    if (state === P.IDLE) return;
    const why = state === P.FAILED ? this.#text(0, P.LENGTH) : this.#exited ? `the worker exited (${this.#failure ?? "no error"})` : `not ready after ${timeoutMs} ms`;
    this.terminate();
    throw new RegateError("BUNDLE_INVALID", `the policy evaluation worker could not load the bundle: ${why}`);
  }

  /**
   * Evaluates synchronously: input bytes in, result-set JSON out, blocking this thread until `deadline`
   * (a performance.now() value) at most. "loading": a fresh worker was not ready by then (it keeps loading);
   * "timeout": the evaluation did not finish by then (the caller terminates this worker).
   */
  evaluate(req: EvalRequest, deadline: number): EvalOutcome | "loading" | "timeout" {
    const c = this.#control;
    if (Atomics.load(c, P.STATE) === P.LOADING && !this.#await(P.LOADING, deadline)) return "loading";
    const state = Atomics.load(c, P.STATE);
    if (state !== P.IDLE && state !== P.DONE) {
      return { ok: false, error: new RegateError("POLICY_EVAL_FAILED", `the policy evaluation worker could not load the bundle: ${this.#text(0, P.LENGTH)}`) };
    }
    const length = this.#write(0, req.input);
    const middle = req.mask ? this.#write(length, req.mask.middle) : 0;
    Atomics.store(c, P.ENTRYPOINT, req.entrypoint);
    Atomics.store(c, P.LENGTH, length);
    Atomics.store(c, P.MASK_ENTRYPOINT, req.mask ? req.mask.entrypoint : P.NO_MASK);
    Atomics.store(c, P.MIDDLE_LENGTH, middle);
    Atomics.store(c, P.DECIDED, 0);
    Atomics.store(c, P.MASK_ANSWER, P.ANSWER_NONE);
    Atomics.store(c, P.STATE, P.REQUEST);
    Atomics.notify(c, P.STATE);
    if (!this.#await(P.REQUEST, deadline, this.#spinMs)) {
      // The decision came in time; its log mask did not: the decision stands, the mask fails closed.
      if (!req.mask || Atomics.load(c, P.DECIDED) !== 1) return "timeout";
      this.#catchUp();
      const mask = { ok: false, error: new RegateError("POLICY_EVAL_TIMEOUT", "system/log/mask ran past policy.eval_timeout_ms") } as const;
      return { ...this.#answer(P.ANSWER, 0, P.LENGTH), mask, overran: true };
    }
    this.#catchUp();
    const first = this.#answer(P.ANSWER, 0, P.LENGTH);
    if (!req.mask || Atomics.load(c, P.MASK_ANSWER) === P.ANSWER_NONE) return first;
    return { ...first, mask: this.#answer(P.MASK_ANSWER, Atomics.load(c, P.LENGTH), P.MASK_LENGTH) };
  }

  #answer(kindWord: number, offset: number, lengthWord: number): EvalAnswer {
    const text = this.#text(offset, lengthWord);
    if (Atomics.load(this.#control, kindWord) === P.ANSWER_OK) return { ok: true, json: text };
    return { ok: false, error: new RegateError("POLICY_EVAL_FAILED", undefined, { cause: new Error(text) }) };
  }

  /** Puts JSON at `offset` of the data buffer (grown first when it may not fit); returns its length in bytes. */
  #write(offset: number, json: Uint8Array | string): number {
    if (typeof json !== "string") {
      if (offset + json.byteLength > this.#data.byteLength) this.#grow(offset, offset + json.byteLength);
      this.#data.set(json, offset);
      return json.byteLength;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit; measured only when that bound does not fit.
    if (offset + json.length * 3 > this.#data.byteLength) {
      const need = offset + Buffer.byteLength(json, "utf8");
      if (need > this.#data.byteLength) this.#grow(offset, need);
    }
    return this.#bytes.write(json, offset, "utf8");
  }

  /** Stops the worker wherever it is, WASM included (V8 terminates the thread's execution). */
  terminate(): void {
    void this.#worker.terminate();
    this.#port.close();
  }

  /**
   * Waits while STATE holds `from`; false at the deadline. Polls for `spinMs` first: an evaluation takes tens
   * of microseconds, about what going to sleep and being woken costs, and this thread would be idle anyway.
   */
  #await(from: number, deadline: number, spinMs = 0): boolean {
    const c = this.#control;
    if (spinMs > 0) {
      const until = Math.min(deadline, performance.now() + spinMs);
      do if (Atomics.load(c, P.STATE) !== from) return true;
      while (performance.now() < until);
    }
    for (;;) {
      if (Atomics.load(this.#control, P.STATE) !== from) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#control, P.STATE, from, left);
    }
  }

  /** A larger data buffer holding the first `keep` bytes (the input, when the mask's middle is written next). */
  #grow(keep: number, need: number): void {
    if (need > P.MAX_DATA_BYTES) throw new RegateError("POLICY_EVAL_FAILED", `policy input is larger than ${P.MAX_DATA_BYTES} bytes`);
    const buffer = new SharedArrayBuffer(P.grownSize(this.#data.byteLength, need));
    const grown = new Uint8Array(buffer);
    grown.set(this.#data.subarray(0, keep));
    this.#generation++;
    this.#port.postMessage({ buffer, generation: this.#generation } satisfies P.NewBuffer);
    Atomics.store(this.#control, P.GENERATION, this.#generation);
    this.#adopt(grown);
  }

  #adopt(data: Uint8Array): void {
    this.#data = data;
    this.#bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Adopts the buffer the worker grew for a large answer. */
  #catchUp(): void {
    const wanted = Atomics.load(this.#control, P.GENERATION);
    while (this.#generation !== wanted) {
      const m = receiveMessageOnPort(this.#port);
      if (!m) throw new RegateError("INTERNAL", "policy worker announced a buffer it did not send");
      const next = m.message as P.NewBuffer;
      this.#adopt(new Uint8Array(next.buffer));
      this.#generation = next.generation;
    }
  }

  #text(offset: number, lengthWord: number): string {
    return this.#bytes.toString("utf8", offset, offset + Atomics.load(this.#control, lengthWord));
  }
}
