import type { Decision } from "../../decision/index.js";
import { RegateError } from "../../errors.js";
import { secretTexts } from "../../mask/index.js";
import { buildMaskPlan, maskRawValue, planAsTold, type MaskPlan } from "../mask-plan.js";
import type { Pending, Portal } from "../pending.js";
import { Backend, decodeNotice, encodeNotice, rewriteDataRow, type FieldDescription, type Frame, type NoticeFields } from "../protocol/index.js";
import { aboutStatement, quotesRow, screenNoticeFields, screenNotificationPayload, type Exposure } from "../side-channels.js";
import type { AnalysisResult } from "../sql/types.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/** The mask plan for one result: which output columns are masked, and how. */
export function planFor(s: SessionState, decision: Decision | undefined, analysis: AnalysisResult | undefined, fields: FieldDescription[], index = 0): MaskPlan | undefined {
  if (!decision || decision.mask.length === 0) return undefined;
  return buildMaskPlan(decision.mask, analysis?.statements[index], fields, (oid, attnum) => s.ctx.catalog.column(oid, attnum));
}

function rewrite(s: SessionState, raw: Buffer, plan: MaskPlan, statement: Statement | undefined, binary: (column: number) => boolean): Buffer {
  return rewriteDataRow(raw, plan.columns, (i, row, start, length) => {
    if (statement && length >= 0) statement.result.masked_values++;
    return maskRawValue(plan, i, row, start, length, binary(i), s.ctx.maskKey);
  });
}

/** Stage 7: a DataRow as the client may see it, per the plan of the result it belongs to. */
export function maskRow(s: SessionState, f: Frame, head: Pending | undefined): Buffer {
  if (head?.kind === "query") {
    // No plan yet (undefined, not null) is a row before its RowDescription, or for a refused statement:
    // regate's view of the server is off, and the row could belong to any statement.
    if (head.plan === undefined) throw unmatchedRow();
    // A FETCH of a BINARY cursor sends binary values: the RowDescription's format codes say so.
    const plan = head.plan;
    return plan ? rewrite(s, f.raw, plan, head.stmt, (i) => plan.binary?.has(i) ?? false) : f.raw;
  }
  if (head?.kind === "execute" && head.portal) {
    const portal = head.portal;
    if (portal.plan === undefined) portal.plan = undescribedPlan(s, portal);
    const plan = portal.plan;
    if (!plan) return f.raw;
    const formats = portal.resultFormats;
    return rewrite(s, f.raw, plan, head.stmt, (i) => (formats.length === 1 ? formats[0] : formats[i]) === 1);
  }
  if (head?.kind === "execute") return f.raw;
  throw unmatchedRow();
}

/** The plan of a portal the client did not describe: it reads the rows by its statement's Describe, if any. */
function undescribedPlan(s: SessionState, portal: Portal): MaskPlan | null {
  const masks = portal.decision.mask.length > 0;
  if (!masks && !portal.statement.told) return null;
  const fields = portal.fields ?? portal.statement.fields;
  if (!fields) {
    // Masks apply and the row shape is unknown: nothing can be shown safely.
    if (masks) throw new RegateError("MASK_LINEAGE_UNKNOWN", "row shape unknown for a masked result");
    return null;
  }
  const plan = masks ? planFor(s, portal.decision, portal.statement.analysis, fields) : undefined;
  return planAsTold(plan, portal.statement.told, fields) ?? null;
}

/** Only a Query or an Execute is answered with rows: one that comes for anything else is never shown. */
function unmatchedRow(): RegateError {
  return new RegateError("PROTOCOL_VIOLATION", "the server sent a row regate cannot match to a statement it sent; the session is ended so that nothing unmasked gets through");
}

function activeDecision(head: Pending | undefined): Decision | undefined {
  if (head?.kind === "query") return head.decision;
  if (head?.kind === "execute" || (head?.kind === "bind" && head.portal)) return head.portal?.decision;
  return undefined;
}

/**
 * The statement in flight may put a masked column's value into an error or notice text: it references
 * one anywhere (a WHERE, a function argument, a whole row), or its facts are not exact, or regate cannot
 * tell. A statement whose decision masks a table but that reads none of its masked columns (an UPDATE
 * of other columns) keeps the server's own text. At a Sync nothing is in flight, but the implicit
 * transaction commits there, and its commit runs the queries of WITH HOLD cursors the batch declared:
 * what any statement of the batch read, the commit may quote.
 */
function readsMasked(head: Pending | undefined): boolean {
  return inFlight(head).some(({ analysis, decision }) => statementReadsMasked(analysis, decision));
}

/** The statements whose facts and decisions a server text at `head` may be about (every one a Sync ends). */
function inFlight(head: Pending | undefined): { analysis: AnalysisResult | undefined; decision: Decision | undefined }[] {
  if (head?.kind === "sync") return head.done.map((st) => ({ analysis: st.analysis, decision: st.decision }));
  const analysis = head?.kind === "query" ? head.analysis : head?.kind === "execute" || head?.kind === "bind" ? head.portal?.statement.analysis : undefined;
  return [{ analysis, decision: activeDecision(head) }];
}

/**
 * How much of an error or notice may reach the client (side-channels.ts). A write makes the server check
 * the whole new row (CHECK and partition constraints, index expressions and predicates, generated
 * columns), columns the statement never named included, and any of those checks may quote what it read:
 * `Failing row contains (...)`, a key, or a cast that fails inside a CHECK (`invalid input syntax for type
 * integer: "<an e-mail>"`). So while a statement in flight writes a relation its decision masks (an
 * inheritance child or partition of a masked table too: the catalog lists its ancestors as written), every
 * text is withheld but a constraint failure's message and those of classes about the statement or session
 * (`aboutStatement`: a read-only transaction, a lock timeout). A constraint failure's detail is shown only
 * when a statement in flight writes the table the error names and none writes a relation its decision
 * masks. At COMMIT (a deferred constraint) or about another table (a key still referenced), the row is one
 * regate's facts do not show. A text raised with a CONTEXT (a trigger, a cascaded foreign-key action, a
 * function) comes from code regate never read, which may read any column: when the server wrote it about a
 * value (`quotesInCode`) it is withheld whole, whatever table the statement writes. A message the code's
 * author wrote (RAISE) stays screened by the detectors: an application's own refusals are the agent's to read.
 */
function exposure(head: Pending | undefined, fields: NoticeFields, holdMasked: boolean): Exposure {
  if (holdMasked || readsMasked(head)) return "all";
  const statements = inFlight(head);
  const writesMasked = statements.some(({ analysis, decision }) => writes(analysis).some((t) => !decision || masksRelation(decision, t.name)));
  if (fields["W"] !== undefined && !copyInputOnly(fields["W"]) && quotesInCode(fields)) return "all";
  if (!quotesRow(fields)) return writesMasked && !aboutStatement(fields) ? "all" : "none";
  const table = fields["t"];
  if (table === undefined || writesMasked) return "detail";
  const schema = fields["s"];
  const vouched = statements.some(({ analysis }) => writes(analysis).some((t) => t.name === table && t.schema !== null && (schema === undefined || t.schema === schema)));
  return vouched ? "none" : "detail";
}

/**
 * SQLSTATE classes of texts the server writes about a value it was given, quoting it: a data exception (22:
 * a failed cast of a column the code read), a constraint failure (23, 44: the row), a syntax error or an
 * unknown name (42: in SQL the code built from values). Raised inside code regate never read, that value
 * may be any column's.
 */
const VALUE_QUOTING_CLASSES = new Set(["22", "23", "42", "44"]);

function quotesInCode(fields: NoticeFields): boolean {
  return VALUE_QUOTING_CLASSES.has((fields["C"] ?? "").slice(0, 2));
}

/**
 * A CONTEXT that is one line of COPY FROM's own (`COPY orders, line 2, column amount: "abc"`): it quotes the
 * input the client sent, not code the server ran. Any other line (a trigger's PL/pgSQL, an SQL function, a
 * cascaded action) is code regate never read, which may have read and quoted any column.
 */
function copyInputOnly(context: string): boolean {
  return /^COPY [^\n]*$/.test(context);
}

/** Every relation a statement of `analysis` writes, the ancestors the catalog lists for a child or partition included. */
function writes(analysis: AnalysisResult | undefined): AnalysisResult["statements"][number]["tables"] {
  return (analysis?.statements ?? []).flatMap((st) => st.tables.filter((t) => t.access === "write"));
}

/**
 * Whether `decision` masks a column of a relation called `table` in any schema (a mask without a column
 * masks every relation). Compared by the text before the column's last dot, so a name with a dot in it
 * (`"a.b"`) is not cut apart, and without the schema: stricter when two schemas share a table name.
 */
function masksRelation(decision: Decision, table: string): boolean {
  return decision.mask.some((m) => {
    if (!m.column) return true;
    const relation = m.column.slice(0, Math.max(0, m.column.lastIndexOf(".")));
    return relation === table || relation.endsWith(`.${table}`);
  });
}

function statementReadsMasked(analysis: AnalysisResult | undefined, decision: Decision | undefined): boolean {
  if (!decision || decision.mask.length === 0) return false;
  if (!analysis || analysis.parse_error) return true;
  return factsReadMasked(analysis.statements, decision);
}

/**
 * A WITH HOLD cursor the server just confirmed (statement `index` of `analysis`, allowed by `decision`): when
 * its query reads a masked column, the commit that keeps its rows runs that query and may quote it, and that
 * commit may come with any later message of the transaction, even one regate has no facts of the cursor for
 * (a Query or a COMMIT pipelined in the same batch, decided before the DECLARE was confirmed). Until the
 * session is idle again, every error and notice is screened (SessionState.unkeptHoldMasked).
 */
export function noteHoldCursor(s: SessionState, analysis: AnalysisResult | undefined, index: number, decision: Decision | undefined): void {
  const effect = analysis?.names?.[index];
  if (!effect || effect.space !== "cursor" || !effect.define || !effect.hold) return;
  const st = analysis!.statements[index];
  if (!st || !decision || (decision.mask.length > 0 && factsReadMasked([st], decision))) s.unkeptHoldMasked = true;
}

function factsReadMasked(statements: AnalysisResult["statements"], decision: Decision): boolean {
  const masked = new Set<string>();
  for (const m of decision.mask) {
    // "schema.table.column": compared without the schema, stricter when two schemas share a table name.
    if (!m.column) return true;
    const parts = m.column.split(".");
    masked.add(`${parts.at(-2) ?? ""}.${parts.at(-1) ?? ""}`);
  }
  for (const st of statements) {
    if (st.outputs.some((o) => o.unknown) || st.functions.some((fn) => fn.inputs_unknown)) return true;
    for (const c of st.columns) if (c.column === "*" || masked.has(`${c.table}.${c.column}`)) return true;
  }
  return false;
}

/** What stands in server text for a secret regate holds (also in a FunctionCall's result: function-call.ts). */
export const SECRET_WITHHELD = "[regate secret withheld]";

/**
 * Error and notice text can carry row values (`DETAIL: Key (email)=(...)`, a failed cast's input, a
 * number an expression made of one): while the statement in flight reads something masked, only the
 * naming fields get through and the message is regate's; otherwise values that look like personal data
 * or secrets are masked (side-channels.ts).
 */
export function maskNotice(f: Frame, head: Pending | undefined, secrets: readonly Buffer[] = [], holdMasked = false): Buffer {
  let fields = decodeNotice(f.body);
  let changed = false;
  if (secrets.some((secret) => f.body.includes(secret))) {
    fields = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, scrubSecrets(v, secrets)]));
    changed = true;
  }
  const screened = screenNoticeFields(fields, exposure(head, fields, holdMasked));
  if (screened) return encodeNotice(f.type as typeof Backend.ErrorResponse, screened);
  return changed ? encodeNotice(f.type as typeof Backend.ErrorResponse, fields) : f.raw;
}

function scrubSecrets(text: string, secrets: readonly Buffer[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret.toString("utf8")).join(SECRET_WITHHELD);
  return out;
}

/**
 * The forms of a secret a server text may quote: as is, and every form the logs and recordings withhold
 * (mask/secret-texts.ts: base64 at any offset, hex, JSON- and percent-escaped), longest first.
 */
export function secretForms(secret: string | undefined): Buffer[] {
  if (!secret) return [];
  const texts = secretTexts([secret]);
  if (!texts.includes(secret)) texts.push(secret);
  return texts.map((t) => Buffer.from(t, "utf8"));
}

/** NotificationResponse: another connection may NOTIFY anything; its payload is screened like text. */
export function maskNotification(f: Frame): Buffer {
  const body = f.body;
  const channelEnd = body.indexOf(0, 4);
  const payloadEnd = channelEnd < 0 ? -1 : body.indexOf(0, channelEnd + 1);
  if (channelEnd < 0 || payloadEnd < 0) throw new RegateError("PROTOCOL_VIOLATION", "malformed NotificationResponse");
  const payload = body.toString("utf8", channelEnd + 1, payloadEnd);
  const screened = screenNotificationPayload(payload);
  if (screened === payload) return f.raw;
  const text = Buffer.from(screened, "utf8");
  const out = Buffer.allocUnsafe(1 + 4 + channelEnd + 1 + text.length + 1);
  out[0] = Backend.NotificationResponse;
  out.writeInt32BE(out.length - 1, 1);
  body.copy(out, 5, 0, channelEnd + 1);
  text.copy(out, 5 + channelEnd + 1);
  out[out.length - 1] = 0;
  return out;
}
