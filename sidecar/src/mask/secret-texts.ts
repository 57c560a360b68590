/**
 * The texts that give a secret away in a JSON line or record: as is, JSON-escaped, base64 (unpadded); 6
 * characters at least (shorter would match by chance). Longest first, so that a form containing another is
 * replaced whole.
 */
export function secretTexts(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(Buffer.from(s, "utf8").toString("base64").replace(/=+$/, ""));
  }
  return [...forms].filter((f) => f.length >= 6).sort((a, b) => b.length - a.length);
}
