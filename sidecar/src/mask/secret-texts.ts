/**
 * The texts that give a secret away in a JSON line or record: as is, JSON-escaped, base64 (unpadded), and
 * percent-encoded as a URL path or query keeps it (escapes in upper and in lower case: a request's raw path
 * is logged as the agent wrote it); 6 characters at least (shorter would match by chance). Longest first, so
 * that a form containing another is replaced whole.
 */
export function secretTexts(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(Buffer.from(s, "utf8").toString("base64").replace(/=+$/, ""));
    const escaped = percentEncoded(s);
    if (escaped !== undefined) {
      forms.add(escaped);
      forms.add(escaped.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()));
    }
  }
  return [...forms].filter((f) => f.length >= 6).sort((a, b) => b.length - a.length);
}

/** Every character but the unreserved ones escaped (as encodeURIComponent, plus !'()*); undefined if not valid UTF-16. */
function percentEncoded(s: string): string | undefined {
  try {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    return undefined;
  }
}
