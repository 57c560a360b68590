import { RegateError } from "../errors.js";

/**
 * The byte form OPA hashes for a structured bundle file (data.json, .manifest) when it signs or
 * verifies a bundle: keys sorted by their UTF-8 bytes, no whitespace, numbers kept as written (OPA
 * decodes with json.Number), strings escaped as Go's encoding/json does with HTML escaping off.
 * JSON.parse cannot be used: it turns `1.0` into `1` and the hash would no longer match.
 */
export function canonicalJson(text: string): string {
  const p = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  p.ws();
  const out = p.value();
  p.ws();
  if (p.i !== p.s.length) p.fail("trailing characters");
  return out;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new RegateError("BUNDLE_INVALID", `structured bundle file is not valid JSON (${what} at offset ${this.i})`);
  }

  ws(): void {
    while (this.i < this.s.length && " \t\r\n".includes(this.s[this.i]!)) this.i++;
  }

  value(): string {
    const c = this.s[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return goString(this.string());
    for (const lit of ["true", "false", "null"]) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return lit;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.fail("unexpected character");
    this.i += m[0].length;
    return m[0];
  }

  string(): string {
    STRING.lastIndex = this.i;
    const m = STRING.exec(this.s);
    if (!m) this.fail("bad string");
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  object(): string {
    this.i++;
    const members = new Map<string, string>(); // a repeated key: the last one wins, as in Go
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return "{}";
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("expected a key");
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("expected ':'");
      this.i++;
      this.ws();
      members.set(key, this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") break;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
    const keys = [...members.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
    return `{${keys.map((k) => `${goString(k)}:${members.get(k)!}`).join(",")}}`;
  }

  array(): string {
    this.i++;
    const items: string[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return "[]";
    }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") break;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
    return `[${items.join(",")}]`;
  }
}

const SHORT_ESCAPES: Record<number, string> = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r", 0x22: '\\"', 0x5c: "\\\\" };

/** A string as Go's encoding/json writes it with SetEscapeHTML(false). */
export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const short = SHORT_ESCAPES[c];
    if (short) out += short;
    else if (c < 0x20 || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd"; // a lone surrogate: Go decodes it as U+FFFD
    else out += ch;
  }
  return `${out}"`;
}
