import { loggedViewOf, type Decision, type SessionInput, type Veto } from "../decision/index.js";
import { REDACTED } from "../mask/index.js";
import type { EndReason, SessionHooks, Statement } from "../postgres/index.js";
import type { Recorder } from "./recorder.js";
import { UNAVAILABLE } from "./layout.js";
import { loggedSql, parametersHidden, recordedDecision, tablesHidden } from "./logged-decision.js";
import { recordableParameters, recordableSql } from "./redact.js";
import { dataRowValues, recordableRow } from "./rows.js";

// The Postgres path's records: `statement` when a statement is decided (an allow before it is logged, so a
// failed write refuses it), `result` when it completes, `end` when the session ends.

export function postgresHooks(rec: Recorder): SessionHooks {
  /** Statements whose record was written before their decision was logged (admit). */
  const recorded = new WeakSet<Statement>();
  /** The first `recording.rows` rows of each result, as the client got them (rows.ts). */
  const keep = rec.opts.rows ?? 0;
  const rows = new WeakMap<Statement, (string | null)[][]>();
  const decided = (session: SessionInput, st: Statement, decision: Decision): boolean => {
    const key = rec.opts.maskKey;
    // Nothing the decision log withholds (system.log.mask) enters the record either (logged-decision.ts).
    const view = loggedViewOf(decision);
    const sql = loggedSql(view);
    const hideTables = tablesHidden(view);
    const facts = st.analysis
      ? {
          fingerprint: st.analysis.fingerprint,
          // The parser's message can quote the statement's text: only whether it failed is kept.
          parse_error: st.analysis.parse_error !== undefined ? true : undefined,
          statements: st.analysis.statements.map((f) => ({
            kind: f.kind,
            tables: hideTables ? undefined : f.tables.map((r) => ({ name: [r.schema, r.name].filter((x) => x !== null).join("."), access: r.access })),
            writes: f.writes,
          })),
        }
      : undefined;
    const ok = rec.write(
      session,
      "statement",
      {
        stmt: st.seq,
        message: st.message,
        sql: recordableSql(sql ?? st.sql, decision, key),
        parameters: parametersHidden(view) ? st.parameters?.map(withheld) : recordableParameters(st.parameters, decision, key, st.sql),
        facts,
        decision: recordedDecision(decision, view),
      },
      "postgres",
      decision.revision,
    );
    const t = rec.tally(session.id);
    if (t) t.statements++;
    return ok;
  };
  /**
   * An allow (or approve) is recorded before it is logged: if the record cannot be written, the
   * statement is refused, and that refusal is the decision logged and enforced.
   */
  const admit = (session: SessionInput, st: Statement, decision: Decision): Veto | undefined => {
    if (decided(session, st, decision)) {
      recorded.add(st);
      return undefined;
    }
    rec.refused();
    return { reason: UNAVAILABLE, error_code: "RECORDING_UNAVAILABLE" };
  };
  const completed = (session: SessionInput, st: Statement): void => {
    const r = st.result;
    // A Parse with placeholders that no Bind followed in its batch (pgx, asyncpg and JDBC prepare apart
    // from executing) was never decided and ran nothing: a `result` for it named a statement the recording
    // has no `statement` record of. Its execution is recorded with the Bind that runs it. A failure of it
    // (a syntax error) is still kept.
    if (st.decision === undefined && r.sqlstate === undefined && r.command_tags.length === 0 && r.rows === 0) return;
    const t = rec.tally(session.id);
    if (t) {
      t.rows += r.rows;
      t.bytes += r.bytes;
    }
    const sample = rows.get(st);
    rows.delete(st);
    // Deferred (group commit): nothing waits on it, and it reaches the file with the next statement record
    // or at the end of this event-loop turn.
    rec.writeLater(session, "result", {
      stmt: st.seq,
      rows_sample: sample,
      decision_id: st.decision?.decision_id,
      // The enforced outcome: differs from the statement record's after an approval was answered.
      outcome: st.decision?.outcome,
      command_tags: r.command_tags,
      rows: r.rows,
      bytes: r.bytes,
      masked_values: r.masked_values,
      sqlstate: r.sqlstate,
      duration_ms: r.duration_ms,
      budget_cut: r.budget_cut,
      session_ended: r.session_ended,
    });
  };
  const ended = (session: SessionInput, reason: EndReason): void => {
    const t = rec.tally(session.id);
    rec.end(session, { reason, statements: t?.statements ?? 0, rows: t?.rows ?? 0, bytes: t?.bytes ?? 0 });
  };
  // A client's CancelRequest, as a record of its own: which statement was running (its result follows,
  // usually with SQLSTATE 57014).
  const cancelled = (session: SessionInput, st: Statement | undefined): void => {
    rec.appendOpen(session.id, "cancel", { stmt: st?.seq, decision_id: st?.decision?.decision_id }, true);
  };
  const row = (_session: SessionInput, st: Statement, raw: Buffer): void => {
    let sample = rows.get(st);
    if (!sample) rows.set(st, (sample = []));
    if (sample.length < keep) sample.push(recordableRow(dataRowValues(raw)));
  };
  return {
    ...(keep > 0 ? { row } : {}),
    admit,
    cancelled,
    decided: (s, st, d) => {
      if (!recorded.has(st) || st.decision !== d) decided(s, st, d);
    },
    completed,
    ended,
  };
}

/** A Bind parameter whose value the log mask hid: its format and type stay, its value does not. */
function withheld(p: unknown): unknown {
  const rest = p && typeof p === "object" ? { ...(p as Record<string, unknown>) } : {};
  const value = p && typeof p === "object" && "value" in p ? (p as { value: unknown }).value : p;
  return { ...rest, value: value === null || value === undefined ? null : REDACTED, ...(value === null || value === undefined ? {} : { masked: true }) };
}
