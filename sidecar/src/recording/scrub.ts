import { REDACTED } from "../mask/index.js";
import { putMember } from "./members.js";

export { secretTexts as secretForms } from "../mask/index.js";

// Secrets regate holds (agent tokens, upstream passwords, route credentials) never enter a record, even
// when an agent typed one into a statement or a request body. Records are scrubbed before they are
// chained: the hash covers what is on disk, so a line cannot be cleaned afterwards.

/** `value` with every string (and object key) in which a form occurs rewritten; the same object when none does. */
export function scrubSecrets<T>(value: T, forms: readonly string[]): T {
  return scrubSecretsCounted(value, forms).value;
}

/** scrubSecrets, and how many times a form was replaced (approval/held-secrets.ts tells the reviewer). */
export function scrubSecretsCounted<T>(value: T, forms: readonly string[]): { value: T; found: number } {
  if (forms.length === 0) return { value, found: 0 };
  const seen = { found: 0 };
  return { value: walk(value, forms, seen) as T, found: seen.found };
}

function scrubText(s: string, forms: readonly string[], seen: { found: number }): string {
  let out = s;
  for (const f of forms) {
    if (!out.includes(f)) continue;
    const parts = out.split(f);
    seen.found += parts.length - 1;
    out = parts.join(REDACTED);
  }
  return out;
}

function walk(v: unknown, forms: readonly string[], seen: { found: number }): unknown {
  if (typeof v === "string") return scrubText(v, forms, seen);
  if (!v || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => walk(x, forms, seen));
  const out: Record<string, unknown> = {};
  // Every member kept: `__proto__`, and a name that scrubs to one already there (members.ts).
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) putMember(out, scrubText(k, forms, seen), walk(x, forms, seen));
  return out;
}
