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
}

export type EvalOutcome = { ok: true; json: string } | { ok: false; error: RegateError };

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
  #generation = 0;
  #exited = false;
  #failure: string | undefined;

  constructor(seed: EvalSeed) {
    const control = new SharedArrayBuffer(P.CONTROL_WORDS * 4);
    const buffer = new SharedArrayBuffer(P.INITIAL_DATA_BYTES);
    const { port1, port2 } = new MessageChannel();
    const entry = workerEntry();
    const boot: P.WorkerBoot = { module: seed.module, data: seed.data, memory: seed.memory, control, buffer, port: port2 };
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
    const why = state === P.FAILED ? this.#text() : this.#exited ? `the worker exited (${this.#failure ?? "no error"})` : `not ready after ${timeoutMs} ms`;
    this.terminate();
    throw new RegateError("BUNDLE_INVALID", `the policy evaluation worker could not load the bundle: ${why}`);
  }

  /**
   * Evaluates synchronously: input bytes in, result-set JSON out, blocking this thread until `deadline`
   * (a performance.now() value) at most. "loading": a fresh worker was not ready by then (it keeps loading);
   * "timeout": the evaluation did not finish by then (the caller terminates this worker).
   */
  evaluate(entrypoint: number, input: Uint8Array, deadline: number): EvalOutcome | "loading" | "timeout" {
    const c = this.#control;
    if (Atomics.load(c, P.STATE) === P.LOADING && !this.#await(P.LOADING, deadline)) return "loading";
    const state = Atomics.load(c, P.STATE);
    if (state !== P.IDLE && state !== P.DONE) {
      return { ok: false, error: new RegateError("POLICY_EVAL_FAILED", `the policy evaluation worker could not load the bundle: ${this.#text()}`) };
    }
    if (input.byteLength > this.#data.byteLength) this.#grow(input.byteLength);
    this.#data.set(input, 0);
    Atomics.store(c, P.ENTRYPOINT, entrypoint);
    Atomics.store(c, P.LENGTH, input.byteLength);
    Atomics.store(c, P.STATE, P.REQUEST);
    Atomics.notify(c, P.STATE);
    if (!this.#await(P.REQUEST, deadline)) return "timeout";
    this.#catchUp();
    const text = this.#text();
    if (Atomics.load(c, P.ANSWER) === P.ANSWER_OK) return { ok: true, json: text };
    return { ok: false, error: new RegateError("POLICY_EVAL_FAILED", undefined, { cause: new Error(text) }) };
  }

  /** Stops the worker wherever it is, WASM included (V8 terminates the thread's execution). */
  terminate(): void {
    void this.#worker.terminate();
    this.#port.close();
  }

  /** Waits while STATE holds `from`; false at the deadline. */
  #await(from: number, deadline: number): boolean {
    for (;;) {
      if (Atomics.load(this.#control, P.STATE) !== from) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#control, P.STATE, from, left);
    }
  }

  #grow(need: number): void {
    if (need > P.MAX_DATA_BYTES) throw new RegateError("POLICY_EVAL_FAILED", `policy input is larger than ${P.MAX_DATA_BYTES} bytes`);
    const buffer = new SharedArrayBuffer(P.grownSize(this.#data.byteLength, need));
    this.#generation++;
    this.#port.postMessage({ buffer, generation: this.#generation } satisfies P.NewBuffer);
    Atomics.store(this.#control, P.GENERATION, this.#generation);
    this.#data = new Uint8Array(buffer);
  }

  /** Adopts the buffer the worker grew for a large answer. */
  #catchUp(): void {
    const wanted = Atomics.load(this.#control, P.GENERATION);
    while (this.#generation !== wanted) {
      const m = receiveMessageOnPort(this.#port);
      if (!m) throw new RegateError("INTERNAL", "policy worker announced a buffer it did not send");
      const next = m.message as P.NewBuffer;
      this.#data = new Uint8Array(next.buffer);
      this.#generation = next.generation;
    }
  }

  #text(): string {
    const length = Atomics.load(this.#control, P.LENGTH);
    return Buffer.from(this.#data.buffer, this.#data.byteOffset, length).toString("utf8");
  }
}
