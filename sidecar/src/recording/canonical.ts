// Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` members left out. The same
// value always serializes to the same bytes, so a record's SHA-256 can be recomputed from its line.
// Built by concatenation (no per-object filter/map/join arrays): it runs for every record on the hot path.
// Records reuse a small set of member names: each one's quoted form is kept (bounded), as quoting it again
// for every record was a measurable share of the cost (issue 12).

const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 1024;

function quotedKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = `${JSON.stringify(k)}:`;
    if (quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(k, q);
  }
  return q;
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    if (typeof value === "bigint") return JSON.stringify(value.toString());
    const s = JSON.stringify(value);
    return s === undefined ? "null" : s;
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      const v: unknown = value[i];
      out += canonicalJson(v === undefined ? null : v);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += quotedKey(k) + canonicalJson(v);
  }
  return `${out}}`;
}
