import type { TimeInput } from "./types.js";

/** The clock goes in the input: time.* builtins do not exist in the WASM target. */
export function timeInput(nowMs: number = Date.now()): TimeInput {
  const d = new Date(nowMs);
  return { now_ns: nowMs * 1e6, rfc3339: d.toISOString(), weekday: d.getUTCDay(), hour: d.getUTCHours() };
}
