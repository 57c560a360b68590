// `WHERE CURRENT OF cur` changes the row cursor `cur` stands on when the statement runs, and what chose that
// row is the cursor's query (dml.ts). A statement parsed with the extended protocol runs at each Bind, on
// whatever cursor has that name then: its facts hold only while the session's cursors stay as they were.
import { parseSql } from "./parser.js";

/** Whether `sql` has a statement with WHERE CURRENT OF (at any depth: a data-modifying CTE too). */
export function runsAtCursor(sql: string): boolean {
  // CURRENT and OF are keywords, never escaped: a text without CURRENT followed somewhere by OF has no CURRENT OF,
  // and most texts (CURRENT_TIMESTAMP in an INSERT's VALUES among them) are spared a second parse.
  // Two searches, not a regex with `[\s\S]*` between them: that one backtracks to the text's end from every CURRENT,
  // quadratic in a text of many CURRENTs and no OF (a 64 KiB Parse held the event loop a quarter of a second).
  const lower = sql.toLowerCase();
  const current = lower.indexOf("current");
  if (current < 0 || lower.indexOf("of", current + 7) < 0) return false;
  const parsed = parseSql(sql);
  // What does not parse runs nothing (the server refuses it too); the facts say so already.
  if (!parsed.ok) return false;
  return parsed.statements.some((s) => JSON.stringify(s.body).includes('"CurrentOfExpr"'));
}
