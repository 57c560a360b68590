import type { Catalog } from "./catalog.js";
import type { AnalysisResult, StatementFacts } from "./sql/types.js";

/**
 * A resolution step that reads the catalog for each statement (resolve-ancestors.ts, resolve-generated.ts, resolve-rules.ts): the
 * relations in `missing` are asked for first, so that `step` then answers synchronously. The result is `a`
 * itself when no statement changed.
 */
export function eachStatement(
  a: AnalysisResult,
  catalog: Catalog,
  missing: [string, string][],
  step: (s: StatementFacts, catalog: Catalog) => StatementFacts,
): AnalysisResult | Promise<AnalysisResult> {
  const run = (): AnalysisResult => {
    const changed = a.statements.map((s) => step(s, catalog));
    return changed.every((s, i) => s === a.statements[i]) ? a : { ...a, statements: changed };
  };
  return missing.length ? catalog.ensure(missing).then(run) : run();
}
