import { randomUUID } from "node:crypto";
import { serialize } from "pg-protocol";
import type { Decision } from "../../decision/index.js";
import { Backend, encodeRowDescription, message, type FieldDescription, type Frame } from "../protocol/index.js";
import { enforceQuery } from "./enforce.js";
import { ownRefusal } from "./refusal.js";
import type { AnalysisResult } from "../sql/types.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/** The columns of `regate.approvals`, all text; the hook returns one array of values per approval. */
export const OWN_APPROVAL_COLUMNS = ["id", "status", "reason", "statement", "requested_at", "expires_at", "decided_at", "comment", "grant_expires_at", "used_at"] as const;

const TEXT_OID = 25;
const SHAPE = /^\s*select\s+\*\s+from\s+regate\s*\.\s*approvals(?:\s+where\s+id\s*=\s*'(apr_[0-9a-f]{16})')?\s*;?\s*$/i;
const USAGE = "SELECT * FROM regate.approvals [WHERE id = 'apr_…']";
/** Sent upstream in place of the agent's query: the server answers it with EmptyQueryResponse and a true ReadyForQuery. */
const EMPTY_QUERY = serialize.query("");

/** Does this statement read the virtual table regate.approvals (which is regate's, never the server's)? */
export function readsOwnApprovals(analysis: AnalysisResult): boolean {
  return analysis.statements.some((st) => st.tables.some((t) => t.schema === "regate" && t.name === "approvals"));
}

/**
 * Simple protocol: answers `SELECT * FROM regate.approvals [WHERE id = '…']` with the agent's own approvals.
 * The query never reaches the server; an empty query goes in its place, and its EmptyQueryResponse is
 * swapped for the rows built here (replies.ts), so the reply keeps its place among pipelined ones and
 * ReadyForQuery carries the server's true transaction status. Any other statement naming the table is
 * refused (FEATURE_UNSUPPORTED), before the policy or the server sees it.
 */
export function answerOwnApprovals(s: SessionState, f: Frame, statement: Statement): void {
  const m = SHAPE.exec(statement.sql);
  const rows = m ? s.ctx.hooks.ownApprovals?.(s.info) : undefined;
  if (!m || !rows) {
    const why = !m ? `regate.approvals answers only ${USAGE}` : "approvals are not enabled in this deployment";
    const denial = ownRefusal(why, !m ? `send exactly ${USAGE}` : "ask an operator to enable approvals");
    statement.decision = denial;
    // Refused as any statement is (the poison): inside a block the block fails, as for any error.
    return enforceQuery(s, f, statement);
  }
  const wanted = m[1];
  const own = wanted ? rows.filter((r) => r[0] === wanted) : rows;
  const fields: FieldDescription[] = OWN_APPROVAL_COLUMNS.map((name) => ({ name, tableOid: 0, attnum: 0, typeOid: TEXT_OID, typlen: -1, typmod: -1, format: 0 }));
  const parts = [encodeRowDescription(fields), ...own.map(dataRow), message(Backend.CommandComplete, Buffer.from(`SELECT ${own.length}\0`))];
  s.pending.push({ kind: "query", index: 0, synthetic: Buffer.concat(parts) });
  s.toServer(EMPTY_QUERY);
}

/** What a Parse of regate.approvals asks: one id as a literal, as $1, or every approval. */
export interface OwnQuery {
  id?: string;
  param: boolean;
}

const SHAPE_EXTENDED = /^\s*select\s+\*\s+from\s+regate\s*\.\s*approvals(?:\s+where\s+id\s*=\s*(?:'(apr_[0-9a-f]{16})'|(\$1)))?\s*;?\s*$/i;

export function ownQueryOf(sql: string): OwnQuery | undefined {
  const m = SHAPE_EXTENDED.exec(sql);
  if (!m) return undefined;
  return { ...(m[1] ? { id: m[1] } : {}), param: m[2] !== undefined };
}

/**
 * Extended protocol: the Parse sent upstream in place of the agent's is a statement with the same text
 * columns and parameter that returns no rows, so the server answers Parse, Describe, Bind and Sync itself
 * (and fails them as it would, e.g. in an aborted block); the rows are regate's, added at Execute.
 */
export function shapeParse(name: string, own: OwnQuery, paramTypes: number[]): Frame {
  const cols = OWN_APPROVAL_COLUMNS.map((c) => `NULL::text AS ${c}`).join(", ");
  const raw = serialize.parse({ name, text: `SELECT ${cols} WHERE ${own.param ? "$1::text IS NULL AND " : ""}false`, types: paramTypes });
  return { type: raw[0]!, body: raw.subarray(5), raw };
}

/** The DataRows and CommandComplete an Execute of the portal gets, computed at Bind with the id given. */
export function ownRowsAtBind(s: SessionState, own: OwnQuery, params: readonly { value: string | null }[]): Buffer {
  const rows = s.ctx.hooks.ownApprovals?.(s.info) ?? [];
  const wanted = own.param ? params[0]?.value ?? null : own.id;
  const picked = own.param || own.id ? rows.filter((r) => r[0] === wanted) : rows;
  return Buffer.concat([...picked.map(dataRow), message(Backend.CommandComplete, Buffer.from(`SELECT ${picked.length}\0`))]);
}

/** A Parse naming regate.approvals in another shape, or with approvals off: refused clearly. */
export function refuseOwnApprovalsExtended(enabled: boolean): Decision {
  return enabled
    ? ownRefusal(`regate.approvals answers only ${USAGE} (or WHERE id = $1)`, `send exactly ${USAGE}`)
    : ownRefusal("approvals are not enabled in this deployment", "ask an operator to enable approvals");
}

/** The statement-level decision of an accepted regate.approvals Parse: regate's own, not the policy's. */
export function ownAllow(): Decision {
  return { decision_id: randomUUID(), outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "" };
}


function dataRow(values: readonly (string | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([values.length >> 8, values.length & 0xff])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const b = Buffer.from(v, "utf8");
      len.writeInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return message(Backend.DataRow, Buffer.concat(parts));
}
