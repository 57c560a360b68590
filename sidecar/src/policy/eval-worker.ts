// The policy evaluation worker: one OPA WASM instance of the active bundle, answering the main thread
// through shared memory (eval-protocol.ts). It imports nothing of regate's but the protocol, so it starts
// fast and owns no state beyond the instance. The main thread terminates it when an evaluation overruns
// policy.eval_timeout_ms: terminate() stops the WASM where it is, which the main thread itself cannot do.
import type { LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { createRequire } from "node:module";
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import { ANSWER, ANSWER_ERROR, ANSWER_OK, DONE, ENTRYPOINT, FAILED, GENERATION, grownSize, IDLE, LENGTH, MAX_DATA_BYTES, REQUEST, STATE, type NewBuffer, type WorkerBoot } from "./eval-protocol.js";

/** The ABI 1.2 fast path's fields; present on LoadedPolicy at run time, absent from its typings. */
interface Abi12 {
  minorVersion: number;
  dataAddr: number;
  dataHeapPtr: number;
  mem: WebAssembly.Memory;
  wasmInstance: WebAssembly.Instance;
}
type OpaEval = (ctx: number, entrypoint: number, data: number, input: number, inputLen: number, heap: number, format: number) => number;

// The package's ESM entry exports loadPolicy only; its CommonJS entry has the synchronous loader too.
const { loadPolicySync } = createRequire(import.meta.url)("@open-policy-agent/opa-wasm") as typeof import("@open-policy-agent/opa-wasm");

const boot = workerData as WorkerBoot;
const control = new Int32Array(boot.control);
let data = new Uint8Array(boot.buffer);
let generation = 0;

function answer(kind: number, bytes: Uint8Array): void {
  if (bytes.byteLength > data.byteLength) {
    if (bytes.byteLength > MAX_DATA_BYTES) {
      answer(ANSWER_ERROR, Buffer.from(`policy result is larger than ${MAX_DATA_BYTES} bytes`));
      return;
    }
    const buffer = new SharedArrayBuffer(grownSize(data.byteLength, bytes.byteLength));
    data = new Uint8Array(buffer);
    generation++;
    boot.port.postMessage({ buffer, generation } satisfies NewBuffer);
    Atomics.store(control, GENERATION, generation);
  }
  data.set(bytes, 0);
  Atomics.store(control, LENGTH, bytes.byteLength);
  Atomics.store(control, ANSWER, kind);
}

function message(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  return typeof thrown === "string" ? thrown : String((thrown as { message?: unknown } | null)?.message ?? thrown);
}

/** Adopts the buffer the main thread grew, if it did: its messages are read synchronously, in order. */
function catchUp(): void {
  const wanted = Atomics.load(control, GENERATION);
  while (generation !== wanted) {
    const m = receiveMessageOnPort(boot.port);
    if (!m) throw new Error("data buffer announced but not received");
    const next = m.message as NewBuffer;
    data = new Uint8Array(next.buffer);
    generation = next.generation;
  }
}

/** One evaluation as opa-wasm's own fast path does it, but input and result move between shared memory and
 * linear memory as bytes: no JSON parse or stringify on this side. */
function evaluate(policy: LoadedPolicy & Abi12, opaEval: OpaEval | undefined): void {
  const entrypoint = Atomics.load(control, ENTRYPOINT);
  const length = Atomics.load(control, LENGTH);
  if (!opaEval) {
    // Older ABI: the SDK's slow path (parses and stringifies).
    const input: unknown = JSON.parse(Buffer.from(data.buffer, 0, length).toString("utf8"));
    answer(ANSWER_OK, Buffer.from(JSON.stringify(policy.evaluate(input, entrypoint))));
    return;
  }
  const inputAddr = policy.dataHeapPtr;
  const need = inputAddr + length - policy.mem.buffer.byteLength;
  if (need > 0) policy.mem.grow(Math.ceil(need / 65536));
  new Uint8Array(policy.mem.buffer).set(data.subarray(0, length), inputAddr);
  const out = opaEval(0, entrypoint, policy.dataAddr, inputAddr, length, inputAddr + length, 0);
  const mem = new Uint8Array(policy.mem.buffer);
  const end = mem.indexOf(0, out);
  answer(ANSWER_OK, mem.subarray(out, end === -1 ? mem.length : end));
}

function serve(): void {
  let policy: LoadedPolicy & Abi12;
  try {
    policy = loadPolicySync(boot.module, { ...boot.memory }) as LoadedPolicy & Abi12;
    policy.setData(boot.data.buffer.slice(boot.data.byteOffset, boot.data.byteOffset + boot.data.byteLength) as ArrayBuffer);
  } catch (thrown) {
    answer(ANSWER_ERROR, Buffer.from(message(thrown)));
    Atomics.store(control, STATE, FAILED);
    Atomics.notify(control, STATE);
    return;
  }
  const opaEval = policy.minorVersion >= 2 ? (policy.wasmInstance.exports["opa_eval"] as OpaEval | undefined) : undefined;
  let state = IDLE;
  Atomics.store(control, STATE, state);
  Atomics.notify(control, STATE);
  for (;;) {
    // Sleeps until the main thread changes STATE away from what this side last wrote.
    Atomics.wait(control, STATE, state);
    if (Atomics.load(control, STATE) !== REQUEST) continue;
    try {
      catchUp();
      evaluate(policy, opaEval);
    } catch (thrown) {
      answer(ANSWER_ERROR, Buffer.from(message(thrown)));
    }
    state = DONE;
    Atomics.store(control, STATE, state);
    Atomics.notify(control, STATE);
  }
}

serve();
