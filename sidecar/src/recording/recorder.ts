import type { KeyObject } from "node:crypto";
import { mkdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Decision, DecisionSink, SessionInput, Veto } from "../decision/index.js";
import { RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import type { EndReason, SessionHooks, Statement } from "../postgres/index.js";
import { ChainFile } from "./chain-file.js";
import { recordableParameters, recordableSql } from "./redact.js";
import { JOURNAL, recordingFileName } from "./layout.js";
import { signCheckpoint, type Checkpoint } from "./sign.js";

export interface RecorderOptions {
  dir: string;
  log: Logger;
  version: string;
  /** Key of the `hash` mask strategy, so detector masks in recordings match the client's. */
  maskKey?: Buffer;
  /** Ed25519 private key signing `closed` and `deleted` journal records. */
  signingKey?: KeyObject;
}

interface Open {
  file: ChainFile;
  statements: number;
  rows: number;
  bytes: number;
}

const UNAVAILABLE = "the session recording cannot be written; statements are refused until it can";

/**
 * Records Postgres sessions: one hash-chained file per session, plus the directory's journal of files
 * opened, closed and deleted. Writes are synchronous; when one fails every new statement is refused
 * (RECORDING_UNAVAILABLE) until a write succeeds again, and the statement whose record failed is turned
 * into a refusal before it runs.
 */
export class Recorder implements DecisionSink {
  readonly dir: string;
  readonly hooks: SessionHooks;
  #opts: RecorderOptions;
  #journal?: ChainFile;
  #sessions = new Map<string, Open>();
  /** Statements whose record was written before their decision was logged (admit). */
  #recorded = new WeakSet<Statement>();
  #failure: unknown;
  /** Records written and bytes, for metrics and tests. */
  written = { records: 0, bytes: 0, failures: 0, refused: 0 };

  constructor(opts: RecorderOptions) {
    this.#opts = opts;
    this.dir = opts.dir;
    this.hooks = {
      admit: (s, st, d) => this.#admit(s, st, d),
      decided: (s, st, d) => {
        if (!this.#recorded.has(st) || st.decision !== d) this.#decided(s, st, d);
      },
      completed: (s, st) => this.#completed(s, st),
      ended: (s, reason) => this.#ended(s, reason),
    };
    try {
      this.#openJournal();
    } catch (err) {
      this.#fail(err);
    }
  }

  get failing(): boolean {
    return this.#failure !== undefined;
  }

  /** The journal of this directory, opened (and continued) on first need. */
  journal(): ChainFile {
    if (!this.#journal) this.#openJournal();
    return this.#journal!;
  }

  #openJournal(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { file, repaired } = ChainFile.continue(join(this.dir, JOURNAL));
    this.#journal = file;
    if (repaired !== undefined) {
      this.#opts.log.warn({ file: file.path, bytes: repaired }, "recording journal ended in a cut-off line (crash?); removed it and noted it in the journal");
      file.append("repaired", { dropped_bytes: repaired });
    }
  }

  // DecisionSink: refusal while recordings cannot be written.
  admit(): RegateError | undefined {
    if (this.#failure === undefined) return undefined;
    this.written.refused++;
    return new RegateError("RECORDING_UNAVAILABLE", UNAVAILABLE, { cause: this.#failure });
  }

  record(): void {
    // Decisions reach recordings through the session hooks, which know the statement.
  }

  #fail(err: unknown): void {
    if (this.#failure === undefined) this.#opts.log.error({ err, dir: this.dir }, "session recording cannot be written; refusing new statements");
    this.#failure = err;
    this.written.failures++;
  }

  #ok(): void {
    if (this.#failure !== undefined) this.#opts.log.info({ dir: this.dir }, "session recording writable again; statements admitted");
    this.#failure = undefined;
  }

  #write(session: SessionInput, type: string, body: Record<string, unknown>, revision?: string): boolean {
    try {
      const open = this.#open(session, revision);
      const before = open.file.size;
      open.file.append(type, { session: session.id, ...body });
      this.written.records++;
      this.written.bytes += open.file.size - before;
      this.#ok();
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  #open(session: SessionInput, revision?: string): Open {
    let open = this.#sessions.get(session.id);
    if (open) return open;
    const name = recordingFileName(session);
    const journal = this.journal();
    const file = ChainFile.create(join(this.dir, name));
    try {
      file.append("start", {
        session: session.id,
        started_at: session.started_at,
        principal: { subject: session.principal.subject, groups: session.principal.groups, auth_method: session.principal.auth_method },
        client: session.client,
        target: session.target,
        application_name: session.application_name,
        protocol: "postgres",
        regate_version: this.#opts.version,
        bundle_revision: revision,
        pid: process.pid,
      });
      journal.append("opened", { session: session.id, file: name });
    } catch (err) {
      file.close();
      // Without its start record (or its journal entry) the file is no recording; left behind, it would make
      // the next attempt for this session fail with EEXIST for good, even once the disk has room again.
      try {
        unlinkSync(file.path);
      } catch {
        // Best effort: the write that failed is what gets reported.
      }
      throw err;
    }
    open = { file, statements: 0, rows: 0, bytes: 0 };
    this.#sessions.set(session.id, open);
    return open;
  }

  #decided(session: SessionInput, st: Statement, decision: Decision): boolean {
    const key = this.#opts.maskKey;
    const facts = st.analysis
      ? {
          fingerprint: st.analysis.fingerprint,
          // The parser's message can quote the statement's text: only whether it failed is kept.
          parse_error: st.analysis.parse_error !== undefined ? true : undefined,
          statements: st.analysis.statements.map((f) => ({
            kind: f.kind,
            tables: f.tables.map((r) => ({ name: [r.schema, r.name].filter((x) => x !== null).join("."), access: r.access })),
            writes: f.writes,
          })),
        }
      : undefined;
    const ok = this.#write(
      session,
      "statement",
      {
        stmt: st.seq,
        message: st.message,
        sql: recordableSql(st.sql, decision, key),
        parameters: recordableParameters(st.parameters, decision, key),
        facts,
        decision: {
          decision_id: decision.decision_id,
          outcome: decision.outcome,
          reasons: decision.reasons,
          error_code: decision.error_code,
          mask: decision.mask,
          dry_run: decision.dry_run,
          revision: decision.revision,
          approve: decision.approve ? { reason: decision.approve.reason } : undefined,
        },
      },
      decision.revision,
    );
    const open = this.#sessions.get(session.id);
    if (open) open.statements++;
    return ok;
  }

  /**
   * An allow (or approve) is recorded before it is logged: if the record cannot be written, the
   * statement is refused, and that refusal is the decision logged and enforced.
   */
  #admit(session: SessionInput, st: Statement, decision: Decision): Veto | undefined {
    if (this.#decided(session, st, decision)) {
      this.#recorded.add(st);
      return undefined;
    }
    this.written.refused++;
    return { reason: UNAVAILABLE, error_code: "RECORDING_UNAVAILABLE" };
  }

  #completed(session: SessionInput, st: Statement): void {
    const r = st.result;
    const open = this.#sessions.get(session.id);
    if (open) {
      open.rows += r.rows;
      open.bytes += r.bytes;
    }
    this.#write(session, "result", {
      stmt: st.seq,
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
    });
  }

  #ended(session: SessionInput, reason: EndReason): void {
    const open = this.#sessions.get(session.id);
    const totals = open ? { statements: open.statements, rows: open.rows, bytes: open.bytes } : { statements: 0, rows: 0, bytes: 0 };
    if (!this.#write(session, "end", { reason, ...totals })) return;
    const file = this.#sessions.get(session.id)!.file;
    this.#sessions.delete(session.id);
    file.close();
    try {
      this.checkpoint({ type: "closed", session: session.id, file: recordingFileName(session), records: file.records, head: file.head });
    } catch (err) {
      this.#fail(err);
    }
  }

  /** A `closed` or `deleted` journal record, signed when a signing key is configured. */
  checkpoint(c: Checkpoint, extra: Record<string, unknown> = {}): void {
    const key = this.#opts.signingKey;
    this.journal().append(c.type, { ...extra, session: c.session, file: c.file, records: c.records, head: c.head, ...(key ? signCheckpoint(key, c) : {}) });
  }

  /** Sessions still being recorded (their files are never removed by retention). */
  liveFiles(): Set<string> {
    return new Set([...this.#sessions.values()].map((o) => o.file.path));
  }

  close(): void {
    for (const o of this.#sessions.values()) o.file.close();
    this.#journal?.close();
  }
}
