// One parsed statement -> its facts. Query nodes go to query.ts, everything else to utility.ts; both
// reach statements nested anywhere through `cx.nested`.
import type { StatementFacts } from "./types.js";
import { FactsBuilder } from "./facts.js";
import { toOutput, type Col } from "./lineage.js";
import { rowsOf } from "./relate.js";
import type { Rec } from "./node.js";
import type { RawStatement } from "./parser.js";
import type { Env } from "./relations.js";
import { TooDeep, type CteEnv, type Cx, type Scope } from "./scope.js";
import { QUERY_NODES, analyzeQuery } from "./query.js";
import { utility } from "./utility.js";
import { kindOf } from "./kinds.js";

/**
 * set_config() moves the search_path while the statement runs; a relation named by text is looked up when its
 * call runs, maybe after that, so the name the analysis resolved may not be the one the server uses.
 */
export const PATH_MOVED_BEFORE_LOOKUP =
  "a relation named by text is looked up when the statement runs, after its set_config() of search_path may have moved the path (send the set_config() as a statement of its own, or name the relation as schema.relation)";

export interface SessionView {
  prepared(name: string): StatementFacts | undefined;
  cursor(name: string): StatementFacts | undefined;
  holdCursors(): StatementFacts[];
  /** A statement's facts depend on the values of its constants (AnalysisResult.constant_values). */
  constantValuesRead?(): void;
}

function nested(type: string, b: Rec, cx: Cx, outer: Scope | null, ctes: CteEnv | null): Col[] {
  if (QUERY_NODES.has(type)) return analyzeQuery(type, b, cx, outer, ctes);
  // Outside the top level there is always a scope: utility() uses that to tell nesting apart.
  return utility(type, b, cx, outer);
}

/** An Env that records what naming the session's temporary relations means for the statement's facts. */
function withTemporary(env: Env, facts: FactsBuilder): Env {
  return {
    ...env,
    unresolvable: (reason) => facts.addUnknown(reason),
    holding: (holds) => {
      for (const t of holds.tables) facts.addTable({ ...t, access: "read", candidates: [...t.candidates] });
      for (const c of holds.cols) facts.addColumn({ ...c });
    },
  };
}

export function analyzeStatement(raw: RawStatement, env: Env, session: SessionView): StatementFacts {
  const facts = new FactsBuilder();
  const cx: Cx = {
    facts,
    env: env.temporary?.size ? withTemporary(env, facts) : env,
    depth: 0,
    looseAccess: "read",
    deferred: false,
    nested: (type, b, outer, ctes) => nested(type, b, cx, outer, ctes),
    prepared: (name) => session.prepared(name),
    cursor: (name) => session.cursor(name),
    holdCursors: () => session.holdCursors(),
  };
  try {
    let outs: Col[];
    if (QUERY_NODES.has(raw.node)) {
      outs = analyzeQuery(raw.node, raw.body, cx, null, null);
      facts.countRows(rowsOf(outs));
      // SELECT INTO sends no rows: they go into the new table.
      if (raw.node === "SelectStmt" && raw.body.intoClause !== undefined) {
        for (const c of outs) facts.addWriteInput(c.lin);
        outs = [];
      }
    } else {
      outs = utility(raw.node, raw.body, cx, null);
      facts.countRows(rowsOf(outs));
    }
    facts.outputs = outs.map(toOutput);
    if (facts.namesAtRun && facts.settings.some((c) => c.action === "set_config" && (c.name === "search_path" || c.name === "*"))) {
      facts.addUnknown(PATH_MOVED_BEFORE_LOOKUP);
    }
  } catch (err) {
    if (err instanceof TooDeep) facts.addUnknown(err.message);
    else facts.addUnknown(`internal analysis error: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (facts.constantValues) session.constantValuesRead?.();
  return facts.build(kindOf(raw.node), raw.node, raw.sql);
}
