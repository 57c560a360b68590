// Query and form text that decoders read differently, so the policy's reading (URLSearchParams) could not be the
// upstream's. A "%" not followed by two hex digits is kept as text by URLSearchParams, Python and PHP, dropped
// with its whole pair by Go's ParseQuery and Tomcat, and read as an escape by IIS and ASP.NET when it is
// "%uXXXX" (HttpUtility.UrlDecode: "X%u002DHTTP-Method-Override" is the override's name there). Escapes that
// are not UTF-8 are U+FFFD to URLSearchParams and Python, the raw byte to PHP, a Latin-1 letter to a server
// configured so. No client that encodes as RFC 3986 and WHATWG say writes either: refused, never guessed.

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/** Why `text` (a query, or a form body) has no one reading, or undefined. */
export function queryTextProblem(text: string): string | undefined {
  const first = text.indexOf("%");
  if (first < 0) return undefined;
  let high = false;
  for (let i = first; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x25) continue;
    const hi = hex(text.charCodeAt(i + 1));
    const lo = hi < 0 ? -1 : hex(text.charCodeAt(i + 2));
    if (lo < 0) {
      const u = text[i + 1] === "u" || text[i + 1] === "U";
      return u ? "a %u escape, which IIS and ASP.NET decode and other servers do not" : "malformed percent-encoding (a '%' not followed by two hex digits; send '%' as %25)";
    }
    if (hi >= 8) high = true;
    i += 2;
  }
  if (!high) return undefined;
  // Only the escapes' bytes matter: literal characters reached here as the server decoded them.
  const bytes = Buffer.from(text.replace(/\+/g, " "), "latin1");
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25) {
      out.push(hex(bytes[i + 1]!) * 16 + hex(bytes[i + 2]!));
      i += 2;
    } else out.push(bytes[i]! < 0x80 ? bytes[i]! : 0x41);
  }
  try {
    UTF8.decode(Uint8Array.from(out));
    return undefined;
  } catch {
    return "percent-escapes that are not UTF-8, which servers decode differently (as U+FFFD, as raw bytes or as Latin-1)";
  }
}
