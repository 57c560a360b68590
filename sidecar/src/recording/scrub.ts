import { REDACTED } from "../mask/index.js";

export { secretTexts as secretForms } from "../mask/index.js";

// Secrets regate holds (agent tokens, upstream passwords, route credentials) never enter a record, even
// when an agent typed one into a statement or a request body. Records are scrubbed before they are
// chained: the hash covers what is on disk, so a line cannot be cleaned afterwards.

/** `value` with every string (and object key) in which a form occurs rewritten; the same object when none does. */
export function scrubSecrets<T>(value: T, forms: readonly string[]): T {
  if (forms.length === 0) return value;
  return walk(value, forms) as T;
}

function scrubText(s: string, forms: readonly string[]): string {
  let out = s;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
  return out;
}

function walk(v: unknown, forms: readonly string[]): unknown {
  if (typeof v === "string") return scrubText(v, forms);
  if (!v || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => walk(x, forms));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[scrubText(k, forms)] = walk(x, forms);
  return out;
}
