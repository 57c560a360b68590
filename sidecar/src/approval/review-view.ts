import type { Decision } from "../decision/index.js";
import { DETECTOR_NAMES, maskText } from "../mask/index.js";

/** What a reviewer (and the agent, through its own view) is shown in place of a value that is masked. */
export const WITHHELD = "[withheld: the statement reads or writes masked columns]";

/**
 * The statement as reviewers see it. The digest they approve covers the real text and values; what they
 * read is masked like anything else regate shows: when the decision masks columns, no parameter value is
 * shown (which parameter feeds which column is not known); otherwise, and in the statement's text, values
 * that look like personal data or secrets (cards, emails, SSNs, IBANs, keys) are masked.
 */
export function reviewView(decision: Decision, sql: string, parameters: readonly unknown[] | undefined): { sql: string; parameters?: unknown[] } {
  const shownSql = maskText(sql, DETECTOR_NAMES, "partial") ?? sql;
  if (!parameters) return { sql: shownSql };
  const withhold = decision.mask.some((r) => r.column !== undefined);
  return { sql: shownSql, parameters: parameters.map((p) => shownParameter(p, withhold)) };
}

function shownParameter(p: unknown, withhold: boolean): unknown {
  if (typeof p === "string") return withhold ? WITHHELD : (maskText(p, DETECTOR_NAMES, "partial") ?? WITHHELD);
  if (!p || typeof p !== "object" || !("value" in p)) return p;
  const v = (p as { value: unknown }).value;
  if (v === null || v === undefined) return p;
  const value = withhold || typeof v !== "string" ? WITHHELD : (maskText(v, DETECTOR_NAMES, "partial") ?? WITHHELD);
  return { ...(p as object), value };
}
