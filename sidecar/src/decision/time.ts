import type { TimeInput } from "./types.js";

/** The input's clock for the millisecond last asked for: many statements share one, and it is frozen. */
let last: TimeInput | undefined;
/**
 * The second last formatted: its RFC 3339 text up to the fraction ("2026-11-30T18:10:17."), weekday and hour.
 * A new millisecond only appends its three digits: `toISOString` cost about 1.3 µs, paid by the first
 * statement of every millisecond (at 10,000 statements a second, most of them).
 */
let second = Number.NaN;
let secondText = "";
let weekday = 0;
let hour = 0;

/** The clock goes in the input: time.* builtins do not exist in the WASM target. */
export function timeInput(nowMs: number = Date.now()): TimeInput {
  if (last?.now_ns === nowMs * 1e6) return last;
  const ms = nowMs % 1000;
  const s = nowMs - ms;
  // Fractions of a millisecond, dates before 1970 (ms < 0) and after 9999 (six-digit years) are formatted in full.
  if (!(ms >= 0) || !Number.isInteger(ms) || nowMs >= 253402300800000) return (last = full(nowMs));
  if (s !== second) {
    const d = new Date(s);
    second = s;
    secondText = d.toISOString().slice(0, 20);
    weekday = d.getUTCDay();
    hour = d.getUTCHours();
  }
  const frac = ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : `${ms}`;
  return (last = Object.freeze({ now_ns: nowMs * 1e6, rfc3339: `${secondText}${frac}Z`, weekday, hour }));
}

function full(nowMs: number): TimeInput {
  const d = new Date(nowMs);
  return Object.freeze({ now_ns: nowMs * 1e6, rfc3339: d.toISOString(), weekday: d.getUTCDay(), hour: d.getUTCHours() });
}
