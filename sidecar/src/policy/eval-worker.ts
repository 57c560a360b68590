// The policy evaluation worker: one OPA WASM instance of the active bundle, answering the main thread
// through shared memory (eval-protocol.ts). It imports nothing of regate's but the protocol, so it starts
// fast and owns no state beyond the instance. The main thread terminates it when an evaluation overruns
// policy.eval_timeout_ms: terminate() stops the WASM where it is, which the main thread itself cannot do.
import type { LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { createRequire } from "node:module";
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import {
  ANSWER,
  ANSWER_ERROR,
  ANSWER_NONE,
  ANSWER_OK,
  DECIDED,
  DONE,
  ENTRYPOINT,
  FAILED,
  GENERATION,
  grownSize,
  IDLE,
  LENGTH,
  MASK_ANSWER,
  MASK_ENTRYPOINT,
  MASK_LENGTH,
  MAX_DATA_BYTES,
  MIDDLE_LENGTH,
  NO_MASK,
  REQUEST,
  STATE,
  type NewBuffer,
  type WorkerBoot,
} from "./eval-protocol.js";

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

/**
 * Writes `bytes` at `offset` of the data buffer. A buffer too small is replaced by a larger one holding what
 * is before `offset` (the decision's answer, which the main thread may read while the mask still runs).
 */
function put(offset: number, bytes: Uint8Array): boolean {
  const need = offset + bytes.byteLength;
  if (need > data.byteLength) {
    if (need > MAX_DATA_BYTES) return false;
    const grown = new Uint8Array(new SharedArrayBuffer(grownSize(data.byteLength, need)));
    grown.set(data.subarray(0, offset));
    data = grown;
    generation++;
    boot.port.postMessage({ buffer: grown.buffer as SharedArrayBuffer, generation } satisfies NewBuffer);
    Atomics.store(control, GENERATION, generation);
  }
  data.set(bytes, offset);
  return true;
}

const tooLarge = () => Buffer.from(`policy result is larger than ${MAX_DATA_BYTES} bytes`);

/** The first answer (the decision's), at the start of the buffer. */
function answer(kind: number, bytes: Uint8Array): void {
  if (!put(0, bytes)) return answer(ANSWER_ERROR, tooLarge());
  Atomics.store(control, LENGTH, bytes.byteLength);
  Atomics.store(control, ANSWER, kind);
}

/** The mask's answer, right after the first one. */
function answerMask(kind: number, bytes: Uint8Array): void {
  if (!put(Atomics.load(control, LENGTH), bytes)) return answerMask(ANSWER_ERROR, tooLarge());
  Atomics.store(control, MASK_LENGTH, bytes.byteLength);
  Atomics.store(control, MASK_ANSWER, kind);
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

const enc = new TextEncoder();
const EVENT_OPEN = enc.encode('{"input":');
const RESULT_KEY = enc.encode(',"result":');
/** opa_eval's JSON result set for exactly one result: `[{"result":` value `}]`. */
const SET_OPEN = enc.encode('[{"result":');
const SET_CLOSE = 2;

/** One evaluation as opa-wasm's own fast path does it, but input and result move between shared memory and
 * linear memory as bytes: no JSON parse or stringify on this side. Then, when asked, system/log/mask over the
 * decision-log event, assembled in linear memory from the input and the result already there. */
function evaluate(policy: LoadedPolicy & Abi12, opaEval: OpaEval | undefined): void {
  const entrypoint = Atomics.load(control, ENTRYPOINT);
  const length = Atomics.load(control, LENGTH);
  const maskEntrypoint = Atomics.load(control, MASK_ENTRYPOINT);
  Atomics.store(control, MASK_ANSWER, ANSWER_NONE);
  if (!opaEval) {
    // Older ABI: the SDK's slow path (parses and stringifies); the caller evaluates the mask on its own.
    const input: unknown = JSON.parse(Buffer.from(data.buffer, 0, length).toString("utf8"));
    answer(ANSWER_OK, Buffer.from(JSON.stringify(policy.evaluate(input, entrypoint))));
    return;
  }
  // Read before the answer overwrites the request.
  const middle = maskEntrypoint === NO_MASK ? undefined : data.slice(length, length + Atomics.load(control, MIDDLE_LENGTH));
  const inputAddr = policy.dataHeapPtr;
  reserve(policy, inputAddr + length);
  new Uint8Array(policy.mem.buffer).set(data.subarray(0, length), inputAddr);
  const out = opaEval(0, entrypoint, policy.dataAddr, inputAddr, length, inputAddr + length, 0);
  const rs = cString(policy, out);
  answer(ANSWER_OK, rs);
  if (!middle) return;
  Atomics.store(control, DECIDED, 1);
  try {
    const event = assembleEvent(policy, inputAddr, length, middle, out, out + rs.byteLength);
    const masked = opaEval(0, maskEntrypoint, policy.dataAddr, event.addr, event.length, event.addr + event.length, 0);
    answerMask(ANSWER_OK, cString(policy, masked));
  } catch (thrown) {
    answerMask(ANSWER_ERROR, Buffer.from(message(thrown)));
  }
}

/** `{"input":<input><middle>,"result":<value>}` written above the heap the decision used, by copies within linear
 * memory. A result set that is not exactly one result leaves the result out (the caller then refuses the decision
 * and evaluates the mask again on its own). */
function assembleEvent(policy: LoadedPolicy & Abi12, inputAddr: number, length: number, middle: Uint8Array, rsStart: number, rsEnd: number): { addr: number; length: number } {
  let mem = new Uint8Array(policy.mem.buffer);
  const one = rsEnd - rsStart > SET_OPEN.length + SET_CLOSE && SET_OPEN.every((b, i) => mem[rsStart + i] === b) && mem[rsEnd - 2] === 0x7d && mem[rsEnd - 1] === 0x5d;
  const valueStart = rsStart + SET_OPEN.length;
  const valueEnd = rsEnd - SET_CLOSE;
  const total = EVENT_OPEN.length + length + middle.byteLength + (one ? RESULT_KEY.length + valueEnd - valueStart : 0) + 1;
  const addr = (policy.wasmInstance.exports["opa_heap_ptr_get"] as () => number)();
  reserve(policy, addr + total);
  mem = new Uint8Array(policy.mem.buffer);
  let at = addr;
  mem.set(EVENT_OPEN, at);
  at += EVENT_OPEN.length;
  mem.copyWithin(at, inputAddr, inputAddr + length);
  at += length;
  mem.set(middle, at);
  at += middle.byteLength;
  if (one) {
    mem.set(RESULT_KEY, at);
    at += RESULT_KEY.length;
    mem.copyWithin(at, valueStart, valueEnd);
    at += valueEnd - valueStart;
  }
  mem[at] = 0x7d;
  return { addr, length: total };
}

/** Grows linear memory to hold `end` bytes. */
function reserve(policy: LoadedPolicy & Abi12, end: number): void {
  const need = end - policy.mem.buffer.byteLength;
  if (need > 0) policy.mem.grow(Math.ceil(need / 65536));
}

/** The NUL-terminated string opa_eval returned, as a view of linear memory. */
function cString(policy: LoadedPolicy & Abi12, addr: number): Uint8Array {
  const mem = new Uint8Array(policy.mem.buffer);
  const end = mem.indexOf(0, addr);
  return mem.subarray(addr, end === -1 ? mem.length : end);
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
    // Polls a while (boot.spinMs), then sleeps until the main thread changes STATE away from what this side last wrote.
    if (boot.spinMs > 0) {
      const until = performance.now() + boot.spinMs;
      while (Atomics.load(control, STATE) === state && performance.now() < until);
    }
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
