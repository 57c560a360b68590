import type { TimeInput } from "./types.js";

/** The input's clock for the millisecond last asked for: many statements share one, and it is frozen. */
let last: TimeInput | undefined;

/** The clock goes in the input: time.* builtins do not exist in the WASM target. */
export function timeInput(nowMs: number = Date.now()): TimeInput {
  if (last?.now_ns === nowMs * 1e6) return last;
  const d = new Date(nowMs);
  return (last = Object.freeze({ now_ns: nowMs * 1e6, rfc3339: d.toISOString(), weekday: d.getUTCDay(), hour: d.getUTCHours() }));
}
