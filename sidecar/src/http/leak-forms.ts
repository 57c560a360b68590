// The forms of regate's route credential the response scrubber looks for (scrub.ts): as written, for the byte
// search, and as a client reads them once decoded, compiled for the leak view (leak-guard.ts, leak-view.ts).

import { compileNeedles, type Needles } from "./leak-match.js";

/** Shorter forms are not searched for: too many innocent bytes would match (config demands longer secrets in practice). */
const MIN_NEEDLE = 4;

/** The characters of base64 text that depend on `text` alone, at each of the three alignments it can have. */
function base64Cores(text: string): string[] {
  const bytes = Buffer.from(text, "utf8");
  const cores: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 0x41), bytes]).toString("base64");
    const core = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
    cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

/**
 * What a client reads once it has decoded escapes, unwrapped lines and joined events (leak-view.ts): the
 * secret (without whitespace, which the view drops), the base64 of the secret and of its JSON-escaped and
 * percent-encoded spellings (a base64 blob of a URL or a JSON document), and, read in either case and across
 * separators, its hex (and the secret itself when it is hex: an agent can change its case).
 */
function decodedForms(s: string): { text: string[]; hex: string[] } {
  const json = JSON.stringify(s).slice(1, -1);
  const hex = [Buffer.from(s, "utf8").toString("hex")];
  if (/^[0-9a-f]+$/i.test(s)) hex.push(s);
  // A document holding the secret as bytes, then base64-encoded: its byte list, and the Uint8Array object of
  // the secret alone (keys from "0"), as JSON.stringify writes them.
  const asBytes = [decimal(s), [...Buffer.from(s, "utf8")].map((b, i) => `"${i}":${b}`).join(",")];
  const text = [...softBreakForms(s.replace(/\s+/g, "")), ...new Set([s, json, encodeURIComponent(s), ...asBytes].flatMap(base64Cores))];
  // The secret and its base64 as bytes too: a byte array of the secret's base64 reads as that base64 to a
  // client. (Only these: every form more is a longer search, and digits start many of these.)
  return { text: [...new Set([...text, ...[s, ...base64Cores(s)].map(decimal)])], hex };
}

/**
 * Text as the decimal values of its bytes, as a JSON byte array or a Node Buffer's JSON lists them. The view
 * drops the whitespace a pretty-printer puts between them and the keys of a Uint8Array's JSON (`"0":`,
 * leak-escapes.ts), so this one spelling covers all three. A form cut out of a longer text's bytes is
 * this form cut out of the longer text's list: the same search finds it at any offset.
 */
const decimal = (t: string): string => [...Buffer.from(t, "utf8")].join(",");

/** A secret's "="s, at most, whose every drop is a form (softBreakForms); past it, all of them dropped at once. */
const SOFT_BREAK_EQUALS = 3;

/**
 * The secret, and when it has "="s (base64 padding), the secret without some of them: the view reads an "="
 * that ends a line as a quoted-printable soft line break and drops it (leak-escapes.ts), so a secret wrapped
 * just after its own "=" (`abc=` then a line break) reads as `abc` there.
 */
function softBreakForms(s: string): string[] {
  const at: number[] = [];
  for (let i = s.indexOf("="); i >= 0; i = s.indexOf("=", i + 1)) at.push(i);
  if (at.length === 0) return [s];
  const out = new Set([s, s.replace(/=/g, "")]);
  if (at.length <= SOFT_BREAK_EQUALS) {
    for (let mask = 1; mask < 1 << at.length; mask++) out.add(s.split("").filter((_, i) => !at.some((p, k) => p === i && (mask >> k) & 1)).join(""));
  }
  return [...out];
}

/** For each array secretForms returned, the forms the decoded check looks for. */
const DECODED = new WeakMap<readonly Buffer[], Needles>();

const toBuffers = (forms: Iterable<string>): Buffer[] => [...forms].filter((f) => f.length >= MIN_NEEDLE).map((f) => Buffer.from(f, "utf8"));

/**
 * The byte strings that give a secret away as written: the secret itself, its JSON-escaped and
 * percent-encoded forms, its hex in either case, its base64 and its UTF-16 bytes. The forms the decoded check looks for travel
 * with the array (decodedNeedles).
 */
export function secretForms(secrets: readonly string[]): Buffer[] {
  const forms = new Set<string>();
  const text = new Set<string>();
  const hex = new Set<string>();
  for (const s of secrets) {
    if (s === "") continue;
    forms.add(s);
    const json = JSON.stringify(s).slice(1, -1);
    forms.add(json);
    // PHP and some Java encoders also escape "/".
    forms.add(json.replace(/\//g, "\\/"));
    forms.add(encodeURIComponent(s));
    const d = decodedForms(s);
    for (const f of d.text) {
      forms.add(f);
      text.add(f);
    }
    // Its bytes as decimal numbers (in d.text): how Node serialises a Buffer ({"type":"Buffer","data":[...]}),
    // which Express and Fastify send for a request head or header an upstream echoes as bytes.
    for (const f of d.hex) {
      forms.add(f.toLowerCase());
      forms.add(f.toUpperCase());
      hex.add(f.toLowerCase());
    }
  }
  const out = toBuffers(forms);
  // The secret's UTF-16 bytes either way round: a body as a whole in UTF-16 is refused (charset.ts), but
  // a dump of a string's bytes may put them inside UTF-8 text, where an agent only has to drop the NULs.
  for (const s of secrets) {
    if (s.length < MIN_NEEDLE) continue;
    const le = Buffer.from(s, "utf16le");
    out.push(le, Buffer.from(le).swap16());
  }
  DECODED.set(out, compileNeedles(toBuffers(text), toBuffers(hex)));
  return out;
}

/**
 * The forms the decoded check looks for, given what secretForms returned, compiled. For an array it did not
 * make, the byte forms themselves, as written: a stricter search, never a weaker one.
 */
export function decodedNeedles(forms: readonly Buffer[]): Needles {
  let n = DECODED.get(forms);
  if (!n) {
    n = compileNeedles(forms, []);
    DECODED.set(forms, n);
  }
  return n;
}

/**
 * The secrets of a route: the whole credential, and for basic credentials the password alone as well, and the
 * credential as the upstream receives it: base64 of `user:password` (routes.ts). An upstream that echoes its
 * request encoded once more (base64 or hex of the Authorization header, base64url of the headers' JSON) writes
 * an encoding of that text, which decodes twice to the password and is no encoding of the password's own
 * forms: each form of it is searched for as well.
 */
export function routeSecrets(credential: { type: string; value: string } | undefined): string[] {
  if (!credential) return [];
  if (credential.type !== "basic") return [credential.value];
  const colon = credential.value.indexOf(":");
  const password = credential.value.slice(colon + 1);
  const sent = Buffer.from(credential.value, "utf8").toString("base64");
  return password === "" ? [credential.value, sent] : [credential.value, password, sent];
}
