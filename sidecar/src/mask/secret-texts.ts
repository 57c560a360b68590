/**
 * The characters of a secret's base64 that depend on the secret alone, at each of the three offsets it can
 * start at in a longer text (a `user:token` pair, a file with a prefix), in the standard and URL alphabets.
 * The plain encoding alone misses all but one offset, and even there its last character changes with the
 * byte that follows the secret.
 */
function base64Cores(s: string): string[] {
  const bytes = Buffer.from(s, "utf8");
  const cores: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString("base64");
    const core = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
    cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

/**
 * The texts that give a secret away in a JSON line or record: as is (in either case when it is hex),
 * JSON-escaped, base64 (unpadded, and its core at every offset in either alphabet), hex in either case, and
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
    if (s.length >= 6) {
      // Derived forms of a shorter secret would be as short in entropy and match innocent text by chance.
      for (const core of base64Cores(s)) forms.add(core);
      // A bytea result or literal (`\\x…`, encode(…, 'hex')) spells the secret in hex, in either case.
      const hex = Buffer.from(s, "utf8").toString("hex");
      forms.add(hex).add(hex.toUpperCase());
      // A hex secret read back in the other case (upper(), a bytea of it) is the same secret.
      if (/^[0-9a-f]+$/i.test(s)) forms.add(s.toLowerCase()).add(s.toUpperCase());
    }
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
