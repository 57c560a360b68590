import type { Decision, DetectorName, MaskStrategy } from "../decision/index.js";
import { maskText, namesCredential, REDACTED, SQL_LITERAL } from "../mask/index.js";

// What of a statement may enter a recording. Regate cannot tell which column a parameter or a literal
// is compared with or written to, so when the decision masks any column every parameter value and every
// quoted literal is replaced whole; detector rules are applied to whatever text is kept. A statement that
// carries a credential (ALTER ROLE … PASSWORD, a connection string: mask/credentials.ts) loses its literals
// and parameters whatever the decision.

function detectors(decision: Decision): { names: DetectorName[]; strategy: MaskStrategy }[] {
  return decision.mask.filter((m) => m.detector).map((m) => ({ names: [m.detector!], strategy: m.strategy }));
}

function masksColumns(decision: Decision | undefined): boolean {
  return !decision || decision.mask.some((m) => m.column || m.field);
}

function detect(text: string, decision: Decision | undefined, key?: Buffer): string | null {
  let out: string | null = text;
  for (const d of decision ? detectors(decision) : []) {
    if (out === null) break;
    out = maskText(out, d.names, d.strategy, key);
  }
  return out;
}

export function recordableSql(sql: string, decision: Decision | undefined, key?: Buffer): string {
  const kept = masksColumns(decision) || namesCredential(sql) ? sql.replace(SQL_LITERAL, `'${REDACTED}'`) : sql;
  return detect(kept, decision, key) ?? REDACTED;
}

/** Parameter inputs ({value, format, type_oid}) with their values masked; undefined decision: all masked. */
export function recordableParameters(parameters: readonly unknown[] | undefined, decision: Decision | undefined, key?: Buffer, sql?: string): unknown[] | undefined {
  if (!parameters) return undefined;
  // `SELECT dblink_connect($1)`: the connection string with its password is a parameter.
  const whole = masksColumns(decision) || namesCredential(sql);
  return parameters.map((p) => {
    const value = p && typeof p === "object" && "value" in p ? (p as { value: unknown }).value : p;
    const rest = p && typeof p === "object" ? { ...(p as Record<string, unknown>) } : {};
    if (value === null || value === undefined) return { ...rest, value: null };
    const masked = whole ? REDACTED : typeof value === "string" ? detect(value, decision, key) : REDACTED;
    return { ...rest, value: masked, ...(masked !== value ? { masked: true } : {}) };
  });
}
