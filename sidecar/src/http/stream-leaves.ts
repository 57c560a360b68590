// The strings of a streamed event that a client appends to the ones before: a chat completion's
// `choices[i].delta.content`, Anthropic's `delta.text`, Ollama's `message.content`. Their values across
// consecutive events are one text to the agent (stream-joins.ts reads them so).

import { literalEnd, skipWs, stringEnd, stringValue, type Scan } from "./json-scan.js";

/** A string token of an event's data: its raw offsets (quotes included) and its decoded value. */
export interface Leaf {
  /** The key path with array indices, one text per stream position (`choices/0/delta/content`). */
  path: string;
  /** The path's keys, array indices as numbers. */
  keys: (string | number)[];
  start: number;
  end: number;
  value: string;
}

/** The path of plain-text event data (not JSON): an SSE client appends `event.data`. */
export const TEXT_PATH = "";
/** The path of data that is one JSON string (`data: "607-59"`). */
const STRING_PATH = "$";

/**
 * Paths whose strings are deltas, by the keys that name them (array indices read as "*"). Whole values
 * (ids, model names, timestamps) are left out: appended to each other they would make digit runs no client
 * ever reads, and hold every event.
 */
const DELTA_PATHS: readonly RegExp[] = [
  // OpenAI chat completions and the APIs that copy them (reasoning, refusals, tool-call arguments).
  /^choices\/\*\/delta\/(?:content|reasoning_content|reasoning|refusal)$/,
  /^choices\/\*\/delta\/tool_calls\/\*\/function\/arguments$/,
  // Legacy completions.
  /^choices\/\*\/text$/,
  // Anthropic content_block_delta (text, tool input, thinking).
  /^delta\/(?:text|partial_json|thinking)$/,
  // OpenAI Responses API and the Vercel AI SDK's stream parts: {"type": "…delta", "delta": "…"}.
  /^delta$/,
  // Ollama chat and generate.
  /^message\/(?:content|thinking)$/,
  /^response$/,
  // Gemini.
  /^candidates\/\*\/content\/parts\/\*\/text$/,
];

/** The last keys of DELTA_PATHS: any other string is ruled out without building its path. */
const DELTA_KEYS: ReadonlySet<string> = new Set(["content", "reasoning_content", "reasoning", "refusal", "arguments", "text", "partial_json", "thinking", "delta", "response"]);

const isDeltaPath = (keys: readonly (string | number)[]): boolean => {
  const last = keys[keys.length - 1];
  if (typeof last !== "string" || !DELTA_KEYS.has(last)) return false;
  const shape = keys.map((k) => (typeof k === "number" ? "*" : k)).join("/");
  return DELTA_PATHS.some((re) => re.test(shape));
};

const MAX_LEAF_DEPTH = 8;

/** The delta strings of a JSON document (already parsed once, so its syntax is trusted). */
export function deltaLeaves(text: string): Leaf[] {
  const scan: Scan = { text, pos: 0, edits: [] };
  const out: Leaf[] = [];
  walk(scan, [], out);
  return out;
}

function walk(scan: Scan, keys: (string | number)[], out: Leaf[]): void {
  skipWs(scan);
  const t = scan.text;
  const c = t.charCodeAt(scan.pos);
  if (c === 0x7b || c === 0x5b) {
    const close = c === 0x7b ? 0x7d : 0x5d;
    scan.pos++;
    let index = 0;
    for (;;) {
      skipWs(scan);
      if (t.charCodeAt(scan.pos) === close) break;
      let key: string | number = index++;
      if (c === 0x7b) {
        const ks = scan.pos;
        const ke = stringEnd(scan);
        key = stringValue(t, ks, ke);
        skipWs(scan);
        scan.pos++; // ":"
      }
      if (keys.length < MAX_LEAF_DEPTH) {
        keys.push(key);
        walk(scan, keys, out);
        keys.pop();
      } else skipValue(scan);
      skipWs(scan);
      if (t.charCodeAt(scan.pos) === 0x2c) scan.pos++;
    }
    scan.pos++;
    return;
  }
  const start = scan.pos;
  if (c !== 0x22) {
    literalEnd(scan);
    return;
  }
  const end = stringEnd(scan);
  // A document that is one string is a delta too: its reader appends what it decodes.
  if (keys.length === 0) out.push({ path: STRING_PATH, keys: [], start, end, value: stringValue(t, start, end) });
  else if (isDeltaPath(keys)) out.push({ path: keys.join("/"), keys: [...keys], start, end, value: stringValue(t, start, end) });
}

/** Past the depth where deltas are, a value is only stepped over. */
function skipValue(scan: Scan): void {
  skipWs(scan);
  const t = scan.text;
  const c = t.charCodeAt(scan.pos);
  if (c === 0x22) {
    stringEnd(scan);
    return;
  }
  if (c !== 0x7b && c !== 0x5b) {
    literalEnd(scan);
    return;
  }
  let depth = 0;
  for (;;) {
    const d = t.charCodeAt(scan.pos);
    if (d === 0x22) {
      stringEnd(scan);
      continue;
    }
    scan.pos++;
    if (d === 0x7b || d === 0x5b) depth++;
    else if ((d === 0x7d || d === 0x5d) && --depth === 0) return;
  }
}
