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

export interface SessionView {
  prepared(name: string): StatementFacts | undefined;
  cursor(name: string): StatementFacts | undefined;
  holdCursors(): StatementFacts[];
}

function nested(type: string, b: Rec, cx: Cx, outer: Scope | null, ctes: CteEnv | null): Col[] {
  if (QUERY_NODES.has(type)) return analyzeQuery(type, b, cx, outer, ctes);
  // Outside the top level there is always a scope: utility() uses that to tell nesting apart.
  return utility(type, b, cx, outer);
}

export function analyzeStatement(raw: RawStatement, env: Env, session: SessionView): StatementFacts {
  const facts = new FactsBuilder();
  const cx: Cx = {
    facts,
    env,
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
  } catch (err) {
    if (err instanceof TooDeep) facts.addUnknown(err.message);
    else facts.addUnknown(`internal analysis error: ${err instanceof Error ? err.message : String(err)}`);
  }
  return facts.build(kindOf(raw.node), raw.node, raw.sql);
}
