// Text a JSON document carries as byte values. Node serialises a Buffer as {"type":"Buffer","data":[...]}
// (Express's res.json and Fastify's default serializer of a file read without an encoding, a bytea column from
// node-postgres) and a Uint8Array as {"0":...,"1":...}; an agent turns either back into the text in one line,
// while masks looking for keys and detectors looking at strings see only small numbers.

/** Fewer bytes than this hold no value a mask looks for (and keep [1,2,3] out of the way). */
const MIN_BYTES = 4;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function skipWs(text: string, pos: number): number {
  while (pos < text.length && isWs(text.charCodeAt(pos))) pos++;
  return pos;
}

/** An integer literal 0..255 at `pos` and where it ends, or undefined (a sign, a fraction, an exponent, more). */
function byteAt(text: string, pos: number): { value: number; end: number } | undefined {
  let end = pos;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  if (end === pos || end - pos > 3) return undefined;
  const next = text.charCodeAt(end);
  if (next === 0x2e || next === 0x65 || next === 0x45) return undefined;
  const value = Number(text.slice(pos, end));
  return value <= 255 ? { value, end } : undefined;
}

/**
 * The bytes of the value at `pos` of a document JSON.parse accepted, when it is an array of byte values or an
 * object whose keys are "0", "1", ... in order with byte values; with where it ends. Undefined otherwise.
 */
export function byteValuesAt(text: string, pos: number): { bytes: Buffer; end: number } | undefined {
  const open = text.charCodeAt(pos);
  if (open !== 0x5b && open !== 0x7b) return undefined;
  const close = open === 0x5b ? 0x5d : 0x7d;
  const out: number[] = [];
  let p = skipWs(text, pos + 1);
  if (text.charCodeAt(p) === close) return undefined;
  for (;;) {
    if (open === 0x7b) {
      // The key must be the element's index, written plainly.
      const key = `"${out.length}"`;
      if (!text.startsWith(key, p)) return undefined;
      p = skipWs(text, p + key.length);
      if (text.charCodeAt(p) !== 0x3a) return undefined;
      p = skipWs(text, p + 1);
    }
    const b = byteAt(text, p);
    if (b === undefined) return undefined;
    out.push(b.value);
    p = skipWs(text, b.end);
    const c = text.charCodeAt(p);
    if (c === close) break;
    if (c !== 0x2c) return undefined;
    p = skipWs(text, p + 1);
  }
  return out.length < MIN_BYTES ? undefined : { bytes: Buffer.from(out), end: p + 1 };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as text an agent reads: UTF-8 when they are, else one character a byte (nothing lost either way). */
export function bytesAsText(bytes: Buffer): { text: string; encoding: "utf8" | "latin1" } {
  try {
    return { text: UTF8.decode(bytes), encoding: "utf8" };
  } catch {
    return { text: bytes.toString("latin1"), encoding: "latin1" };
  }
}

/** Masked text written back as the byte values it came as, in the same container. */
export function byteValuesText(text: string, encoding: "utf8" | "latin1", object: boolean): string {
  const bytes = Buffer.from(text, encoding);
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i++) parts.push(object ? `"${i}":${bytes[i]}` : String(bytes[i]));
  return object ? `{${parts.join(",")}}` : `[${parts.join(",")}]`;
}
