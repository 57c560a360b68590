import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { DecisionSink, SessionInput } from "../decision/index.js";
import { RegateError } from "../errors.js";
import type { SessionHooks } from "../postgres/index.js";
import { ChainFile } from "./chain-file.js";
import { GroupCommit } from "./group-commit.js";
import { JOURNAL, recordingFileName, STORE_BEHIND, UNAVAILABLE } from "./layout.js";
import { postgresHooks } from "./postgres.js";
import { createSessionFile, startRecord } from "./session-file.js";
import { scrubSecrets, secretForms } from "./scrub.js";
import { signCheckpoint, type Checkpoint } from "./sign.js";
import { journalHead, type JournalHead } from "./journal-head.js";
import type { Protocol, RecorderOptions, RecordingLink } from "./recorder-options.js";

const SECRETS_RECHECK_MS = 250;

export type { Protocol, RecorderOptions, RecordingLink } from "./recorder-options.js";
export { DEFER_MS } from "./group-commit.js";

interface Open {
  file: ChainFile;
  name: string;
  statements: number;
  rows: number;
  bytes: number;
  /** Records since the last checkpoint, and when that was (ms). */
  unchecked: number;
  checkedAt: number;
}

/**
 * Records sessions, Postgres and HTTP: one hash-chained file per session, plus the directory's journal of
 * files opened, checkpointed, closed and deleted. Writes are synchronous (records nothing waits on are
 * group-committed: writeLater); when one fails every new decision is refused (RECORDING_UNAVAILABLE) until a
 * write succeeds again.
 */
export class Recorder implements DecisionSink {
  readonly dir: string;
  readonly hooks: SessionHooks;
  readonly opts: RecorderOptions;
  #journal?: ChainFile;
  #sessions = new Map<string, Open>();
  #failure: unknown;
  #secrets: string[] = [];
  /** Where secrets that follow their files are read again; every secret once seen stays (it may still be typed). */
  #source: (() => readonly string[]) | undefined;
  #secretsKey = "";
  readonly #knownSecrets = new Set<string>();
  #secretsAt = 0;
  #timer?: NodeJS.Timeout;
  readonly #commit = new GroupCommit({ ok: () => this.#ok(), fail: (err) => this.#fail(err) });
  /** Records written and bytes, for metrics and tests. */
  written = { records: 0, bytes: 0, failures: 0, refused: 0, checkpoints: 0 };

  constructor(opts: RecorderOptions) {
    this.opts = opts;
    this.dir = opts.dir;
    const source = opts.secrets ?? [];
    if (typeof source === "function") this.#source = source;
    this.#takeSecrets(typeof source === "function" ? source() : source);
    this.#secretsAt = Date.now();
    this.hooks = postgresHooks(this);
    try {
      this.#openJournal();
    } catch (err) {
      this.#fail(err);
    }
    const seconds = opts.checkpointSeconds ?? 0;
    if (seconds > 0) this.#timer = setInterval(() => this.#periodic(seconds * 1000), Math.min(seconds * 1000, 1000)).unref();
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
    this.#copy(file, JOURNAL);
    if (repaired !== undefined) {
      this.opts.log.warn({ file: file.path, bytes: repaired }, "recording journal ended in a cut-off line (crash?); removed it and noted it in the journal");
      file.append("repaired", { dropped_bytes: repaired });
    }
  }

  // DecisionSink: refusal while recordings cannot be written.
  admit(): RegateError | undefined {
    if (this.#failure !== undefined) {
      this.written.refused++;
      return new RegateError("RECORDING_UNAVAILABLE", UNAVAILABLE, { cause: this.#failure });
    }
    const behind = this.opts.store?.backlog();
    if (behind === undefined) return undefined;
    this.written.refused++;
    return new RegateError("RECORDING_UNAVAILABLE", STORE_BEHIND, { cause: new Error(behind) });
  }

  /** True while the fleet store is behind: adapters wait for it (bounded, decision/room.ts) before deciding. */
  full(): boolean {
    return this.opts.store?.backlog() !== undefined;
  }

  #copy(file: ChainFile, name: string): void {
    const store = this.opts.store;
    if (store) file.onWritten = (seq, lines) => store.push(name, seq, lines);
  }

  record(): void {
    // Postgres decisions reach recordings through the session hooks, HTTP ones through HttpRecorder.
  }

  #fail(err: unknown): void {
    if (this.#failure === undefined) this.opts.log.error({ err, dir: this.dir }, "session recording cannot be written; refusing new statements");
    this.#failure = err;
    this.written.failures++;
  }

  #ok(): void {
    if (this.#failure !== undefined) this.opts.log.info({ dir: this.dir }, "session recording writable again; statements admitted");
    this.#failure = undefined;
  }

  /**
   * The forms to scrub, the source read again at most every SECRETS_RECHECK_MS (reading it stats each secret
   * file, too dear for every record) and whenever a session's recording opens (`fresh`): a session that
   * authenticated with a token just rotated in finds it scrubbed from its first record on. A session opened
   * before may type a secret rotated in less than SECRETS_RECHECK_MS ago unscrubbed.
   */
  #forms(fresh = false): string[] {
    if (this.#source) {
      const now = Date.now();
      if (fresh || now - this.#secretsAt >= SECRETS_RECHECK_MS) {
        this.#secretsAt = now;
        this.#takeSecrets(this.#source());
      }
    }
    return this.#secrets;
  }

  #takeSecrets(secrets: readonly string[]): void {
    const key = secrets.join("\u0000");
    if (key === this.#secretsKey) return;
    this.#secretsKey = key;
    for (const x of secrets) this.#knownSecrets.add(x);
    this.#secrets = secretForms([...this.#knownSecrets]);
  }

  /** Counts a refusal the caller enforced because a write failed. */
  refused(): void {
    this.written.refused++;
  }

  /**
   * Appends one record to `session`'s file (opened with its start record on first use); false when it failed.
   * When this returns true the record is in the file, with every deferred record of the session before it.
   */
  write(session: SessionInput, type: string, body: Record<string, unknown>, protocol: Protocol = "postgres", revision?: string): boolean {
    return this.#append(session, type, body, protocol, revision, false);
  }

  /**
   * A record that nothing waits on (a result, a response, a cancel): it joins the session's pending buffer
   * and is written with the session's next record written at once, or after DEFER_MS, whichever comes
   * first, in chain order. Saves a write syscall per statement; a failed write is reported
   * (failing mode) when it happens. False only when the session's file could not be opened.
   */
  writeLater(session: SessionInput, type: string, body: Record<string, unknown>, protocol: Protocol = "postgres"): boolean {
    return this.#append(session, type, body, protocol, undefined, true);
  }

  #append(session: SessionInput, type: string, body: Record<string, unknown>, protocol: Protocol, revision: string | undefined, defer: boolean): boolean {
    try {
      const open = this.#open(session, protocol, revision);
      this.written.bytes += open.file.append(type, scrubSecrets({ session: session.id, ...body }, this.#forms()), defer);
      this.written.records++;
      open.unchecked++;
      if (defer) this.#commit.later(open.file);
      // A deferred record proves nothing about the disk: only a real write ends failing mode.
      else this.#ok();
      const every = this.opts.checkpointRecords ?? 0;
      if (every > 0 && open.unchecked >= every && type !== "end") this.#checkpointOpen(session.id, open);
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  /** Appends to a session being recorded; false when it is not (or the write failed). */
  appendOpen(id: string, type: string, body: Record<string, unknown>, defer = false): boolean {
    const open = this.#sessions.get(id);
    if (!open) return false;
    return defer ? this.writeLater({ id } as SessionInput, type, body) : this.write({ id } as SessionInput, type, body);
  }

  /** Writes every deferred record now (one write per file); a failure puts the recorder in failing mode. */
  flush(): void {
    this.#commit.flush();
  }

  /** An event about a session no longer recorded: an `event` record in the journal. */
  journalEvent(body: Record<string, unknown>): void {
    try {
      this.journal().append("event", scrubSecrets(body, this.#forms()));
      this.#ok();
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Where a live session's recording stands: its file, and the seq and SHA-256 (of the line) of its last record. */
  link(id: string): RecordingLink | undefined {
    const o = this.#sessions.get(id);
    return o ? { file: basename(o.file.path), seq: o.file.records, sha256: o.file.head } : undefined;
  }

  /** Totals kept for the `end` record. */
  tally(id: string): { statements: number; rows: number; bytes: number } | undefined {
    return this.#sessions.get(id);
  }

  isOpen(id: string): boolean {
    return this.#sessions.has(id);
  }

  #open(session: SessionInput, protocol: Protocol, revision?: string): Open {
    let open = this.#sessions.get(session.id);
    if (open) return open;
    const name = recordingFileName(session);
    const file = createSessionFile(this.dir, name, this.journal(), scrubSecrets(startRecord(session, protocol, this.opts.version, revision), this.#forms(true)), (f) => this.#copy(f, name));
    open = { file, name, statements: 0, rows: 0, bytes: 0, unchecked: 1, checkedAt: Date.now() };
    this.#sessions.set(session.id, open);
    return open;
  }

  /** Writes the `end` record with `extra` (reason, totals), closes the file and the journal's entry for it. */
  end(session: SessionInput, body: Record<string, unknown>, protocol: Protocol = "postgres"): void {
    if (!this.write(session, "end", body, protocol)) return;
    const open = this.#sessions.get(session.id)!;
    this.#sessions.delete(session.id);
    open.file.close();
    try {
      this.checkpoint({ type: "closed", session: session.id, file: open.name, records: open.file.records, head: open.file.head });
    } catch (err) {
      this.#fail(err);
    }
  }

  #checkpointOpen(id: string, open: Open): void {
    // A checkpoint vouches for records on disk: deferred ones go first (and none is signed if they fail).
    if (!this.#commit.flushFile(open.file)) return;
    try {
      this.checkpoint({ type: "checkpoint", session: id, file: open.name, records: open.file.records, head: open.file.head });
      open.unchecked = 0;
      open.checkedAt = Date.now();
      this.written.checkpoints++;
    } catch (err) {
      this.#fail(err);
    }
  }

  #periodic(everyMs: number): void {
    const now = Date.now();
    for (const [id, open] of this.#sessions) if (open.unchecked > 0 && now - open.checkedAt >= everyMs) this.#checkpointOpen(id, open);
  }

  /** A `checkpoint`, `closed` or `deleted` journal record, signed when a signing key is configured. */
  checkpoint(c: Checkpoint, extra: Record<string, unknown> = {}): void {
    const key = this.opts.signingKey;
    const journal = this.journal();
    // Signed at the position the record takes in the journal (sign.ts): the next seq, built on the current head.
    const at = { seq: journal.records + 1, prev: journal.head };
    journal.append(c.type, { ...extra, session: c.session, file: c.file, records: c.records, head: c.head, ...(key ? signCheckpoint(key, c, at) : {}) });
  }

  /** The journal's head now, signed when a signing key is configured (journal-head.ts). */
  head(): JournalHead {
    const j = this.journal();
    return journalHead(j.records, j.head, this.opts.signingKey);
  }

  /** Sessions still being recorded (their files are never removed by retention). */
  liveFiles(): Set<string> {
    return new Set([...this.#sessions.values()].map((o) => o.file.path));
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.flush();
    for (const o of this.#sessions.values()) o.file.close();
    this.#journal?.close();
  }
}
