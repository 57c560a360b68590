// An event of a text/event-stream as SseMasker cuts it, and how joins (stream-joins.ts) read its data.

import type { JoinKind } from "./stream-joins.js";

/** An event cut from the stream, waiting to be masked and written (at once, unless joins hold it). */
export interface CutEvent {
  lines: string[];
  /** The line break each line came with. */
  breaks: string[];
  /** The blank line's break. */
  end: string;
  /** Indices of its data lines, and their values joined as a client joins them (undefined: no data). */
  dataLines: number[];
  data: string | undefined;
  endpoint: boolean;
}

/**
 * How joins read an event's data: an object's or array's delta strings, a JSON string's value, or plain text a
 * client appends (data that happens to parse as a number, `1111` or `-5353`, is text to such a client too).
 */
export function joinKind(ev: CutEvent): JoinKind {
  if (ev.data === undefined || ev.endpoint) return "none";
  if (!/^\s*[[{"]/.test(ev.data)) return "text";
  try {
    JSON.parse(ev.data);
    return "json";
  } catch {
    return "text";
  }
}
