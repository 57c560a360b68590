// A text as sent and as its %XX escapes decode, with a way back: what the logged path (log-path.ts) and
// masked response headers (mask-headers.ts) search is the decoded text, and what they change is the text as
// sent, span for span.

/**
 * A text to scan and, for each of its characters, the span of the text as sent it came from (none: the text
 * is the text as sent, the common case, which then costs no arrays).
 */
export interface View {
  text: string;
  from?: number[];
  to?: number[];
}

const PERCENT = /%[0-9A-Fa-f]{2}/;

export const identityView = (raw: string): View => ({ text: raw });

/** Whether `text` holds a %XX escape. */
export const hasEscape = (text: string): boolean => PERCENT.test(text);

/**
 * `raw` with each run of %XX escapes decoded as UTF-8. Every character a run decodes to maps to the whole
 * run, so a hit inside it masks all of its escapes (over-masking a multi-byte character at worst).
 */
export function decodedView(raw: string): View {
  let text = "";
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw.charCodeAt(i) === 0x25 && PERCENT.test(raw.slice(i, i + 3))) {
      const start = i;
      const bytes: number[] = [];
      while (raw.charCodeAt(i) === 0x25 && PERCENT.test(raw.slice(i, i + 3))) {
        bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
        i += 3;
      }
      const decoded = Buffer.from(bytes).toString("utf8");
      for (let k = 0; k < decoded.length; k++) {
        from.push(start);
        to.push(i);
      }
      text += decoded;
    } else {
      text += raw[i];
      from.push(i);
      to.push(i + 1);
      i++;
    }
  }
  return { text, from, to };
}

/** A span of the text as sent and what replaces it. */
export type Edit = [start: number, end: number, replacement: string];

/** The span of the text as sent that `view.text`'s [s, e) came from. */
export function sentSpan(view: View, s: number, e: number): [number, number] {
  return [view.from ? view.from[s]! : s, view.to ? view.to[e - 1]! : e];
}

/** `edits` applied to `raw`; overlapping ones are merged into one span whose replacement `join` picks. */
export function applyEdits(raw: string, edits: Edit[], join: (a: string, b: string) => string): string {
  if (edits.length === 0) return raw;
  edits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Edit[] = [];
  for (const e of edits) {
    const last = merged.at(-1);
    if (last && e[0] < last[1]) {
      merged[merged.length - 1] = [last[0], Math.max(last[1], e[1]), join(last[2], e[2])];
      continue;
    }
    merged.push([...e]);
  }
  let out = "";
  let pos = 0;
  for (const [s, e, r] of merged) {
    out += raw.slice(pos, s) + r;
    pos = e;
  }
  return out + raw.slice(pos);
}
