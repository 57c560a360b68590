// Rewrite rules, as the catalog sees them: `CREATE RULE r AS ON UPDATE TO public.audit DO INSTEAD UPDATE
// public.customers ...` (or DO ALSO, or ON INSERT / ON DELETE) makes a write of audit run statements on other tables,
// reading and writing what they like, with errors and RETURNING rows of their own. None of that is in the statement's
// text, and regate does not analyse rule actions: a statement that writes a relation with such a rule says so in
// `unknown`, so the policy refuses it. A view's `_RETURN` rule (ON SELECT) is not one of them: views are expanded.
import { eachStatement } from "./resolve-step.js";
import type { Catalog } from "./catalog.js";
import type { AnalysisResult, RelationRef, StatementFacts } from "./sql/types.js";

/**
 * Adds to every statement that may write a relation with INSERT, UPDATE or DELETE rules an `unknown` entry naming
 * the relation and its rules. Asks the catalog for any relation it does not hold (any more); the answer is then
 * synchronous.
 */
export function withRules(a: AnalysisResult, catalog: Catalog): AnalysisResult | Promise<AnalysisResult> {
  const missing: [string, string][] = [];
  for (const s of a.statements) {
    if (!mayFireRules(s)) continue;
    for (const t of s.tables) for (const schema of targetSchemas(t)) if (catalog.relation(schema, t.name) === undefined) missing.push([schema, t.name]);
  }
  return eachStatement(a, catalog, missing, statement);
}

/**
 * Whether the statement runs an INSERT, UPDATE or DELETE (the rewriter applies rules to those only, wherever they
 * are: a WITH query, EXPLAIN ANALYZE, EXECUTE, COPY (query) TO). A statement that only locks (LOCK, SELECT ... FOR
 * UPDATE) lists its tables as written but leaves `writes` false; TRUNCATE and COPY FROM a client change rows without
 * rules (PostgreSQL documents that COPY FROM does not invoke them).
 */
function mayFireRules(s: StatementFacts): boolean {
  if (!s.writes || s.kind === "truncate") return false;
  return !(s.copy?.direction === "from" && !s.copy.query);
}

/**
 * The relations a write entry may be: none for an entry the catalog added for a named child (an ancestor, or another
 * parent of a descendant), since PostgreSQL applies the rules of the relation a statement names, not of the
 * tables inheritance or partition routing reaches.
 */
function targetSchemas(t: RelationRef): string[] {
  if (t.access !== "write" || t.descendant) return [];
  return (t.schema !== null ? [t.schema] : t.candidates).filter((s) => !s.startsWith("$"));
}

function statement(s: StatementFacts, catalog: Catalog): StatementFacts {
  if (!mayFireRules(s)) return s;
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const t of s.tables) {
    for (const schema of targetSchemas(t)) {
      const name = `${schema}.${t.name}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const info = catalog.relation(schema, t.name);
      // An entry that aged out between the lookup and now is not guessed at: the statement says so.
      if (info === undefined) unknown.push(`the catalog could not say whether ${name} has rewrite rules`);
      else if (info && info.rules.length) {
        const rules = info.rules.map((r) => `${r.name} on ${r.event}`).join(", ");
        unknown.push(`${name} has rewrite rules regate does not follow (${rules}): writing it runs statements its text does not show`);
      }
    }
  }
  return unknown.length ? { ...s, unknown: [...s.unknown, ...unknown] } : s;
}
