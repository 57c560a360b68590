// SQL text -> policy facts, from PostgreSQL's own parser (libpg-query). See docs in types.ts.
export { initSqlParser } from "./parser.js";
export { analyze, fingerprint } from "./analyze.js";
export { runsAtCursor } from "./current-of.js";
export { parseSearchPath } from "./settings.js";
export { NON_CONSTANT_RELATION } from "./relation-args.js";
export { columnKey } from "./lineage.js";
export type {
  Access,
  AnalysisContext,
  AnalysisResult,
  CatalogLookup,
  ColumnRef,
  CopyFacts,
  DdlFacts,
  FunctionRef,
  OutputColumn,
  RelationRef,
  SettingChange,
  StatementFacts,
  StatementKind,
} from "./types.js";
