// The Vercel AI SDK's data stream protocol (v4: `x-vercel-ai-data-stream: v1`, served as text/plain): one part
// per line, `<type>:<JSON>`, the answer in `0:"…"` text parts and `g:"…"` reasoning parts that its client
// appends. regate reads such a body whole, as text, where `0:"607-59"` and `0:"-5353"` on two lines hold no
// SSN; here the text parts are read as one text (stream-joins.ts) and masked part by part.

import type { ResponseMasker } from "./masker.js";
import { StreamJoins, streamJoinsFor } from "./stream-joins.js";

const PART = /^([0-9a-z]):/;
/** The parts whose strings the client appends. */
const TEXT_PARTS = new Set(["0", "g"]);
/** The wrapper that puts a part's string where joins read deltas. */
const OPEN = '{"delta":';

/**
 * `text` with values cut across its text parts masked, when it is a data stream (every non-blank line a part,
 * some of them text); undefined when it is not one or nothing was masked. Each line is masked on its own
 * afterwards as any text is.
 */
export function maskDataStreamText(text: string, masker: ResponseMasker): string | undefined {
  if (!PART.test(text)) return undefined;
  const detect = streamJoinsFor(masker);
  if (!detect) return undefined;
  const lines = text.split("\n");
  const payloads: (string | undefined)[] = [];
  let texts = 0;
  for (const line of lines) {
    const body = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (body.trim() === "") {
      payloads.push(undefined);
      continue;
    }
    const m = PART.exec(body);
    if (!m) return undefined;
    const payload = body.slice(2);
    if (TEXT_PARTS.has(m[1]!) && isJsonString(payload)) {
      payloads.push(payload);
      texts++;
    } else payloads.push(undefined);
  }
  if (texts < 2) return undefined;
  // The whole body is here: nothing waits on a clock, the end reads all of it once.
  const joins = new StreamJoins<number>(detect, () => {}, { whole: true });
  const out = [...lines];
  let changed = false;
  const put = (released: { item: number; data: string }[]): void => {
    for (const r of released) {
      const payload = payloads[r.item];
      if (payload === undefined) continue;
      const masked = r.data.slice(OPEN.length, -1);
      if (masked === payload) continue;
      const line = lines[r.item]!;
      out[r.item] = line.slice(0, 2) + masked + (line.endsWith("\r") ? "\r" : "");
      changed = true;
    }
  };
  payloads.forEach((p, i) => put(p === undefined ? joins.add(i, "", "none") : joins.add(i, `${OPEN}${p}}`, "json")));
  put(joins.end());
  joins.stop();
  return changed ? out.join("\n") : undefined;
}

function isJsonString(payload: string): boolean {
  if (!payload.startsWith('"')) return false;
  try {
    return typeof JSON.parse(payload) === "string";
  } catch {
    return false;
  }
}
