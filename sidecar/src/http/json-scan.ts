// Cursor helpers over JSON text already validated by JSON.parse (ResponseMasker.maskJsonText's in-place rewrite).

/** A document being rewritten: the text, the cursor, and the replacements so far (in text order). */
export interface Scan {
  text: string;
  pos: number;
  edits: [start: number, end: number, replacement: string][];
}

export function skipWs(scan: Scan): void {
  const t = scan.text;
  let i = scan.pos;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  scan.pos = i;
}

/** The cursor is on a string's opening quote: moves past its closing quote and returns that offset. */
export function stringEnd(scan: Scan): number {
  const t = scan.text;
  let i = scan.pos + 1;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) break;
    else i++;
  }
  scan.pos = i + 1;
  return scan.pos;
}

export function stringValue(text: string, start: number, end: number): string {
  const body = text.slice(start + 1, end - 1);
  return body.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : body;
}

/** A number, true, false or null at the cursor. */
export function literalEnd(scan: Scan): number {
  const t = scan.text;
  let i = scan.pos;
  for (;;) {
    const c = t.charCodeAt(i);
    if (Number.isNaN(c) || c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
    i++;
  }
  scan.pos = i;
  return i;
}
