import type { UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { NotifyListener } from "../postgres/notify-listener.js";
import { SerialConnection, STORE_STARTUP } from "../postgres/serial-connection.js";
import { ensureStoreTables } from "../postgres/store-tables.js";
import { APPROVALS_CHANNEL, ApprovalSql, approvalsTableSql, parseRow } from "./pg-sql.js";
import type { ApprovalStore, StoredTerms, VoteResult } from "./store.js";
import type { Approval, ApprovalStatus, Vote } from "./types.js";


/**
 * Approvals in a PostgreSQL table shared by replicas (docs/approvals.md). Transitions are
 * compare-and-set UPDATEs (pg-sql.ts) announced by NOTIFY carrying only the id; every replica re-reads
 * that row (a forged NOTIFY can only cause a re-read) into its mirror, the synchronous view the API and
 * agents read, and answers the client it holds. The LISTEN connection's backend is this replica's
 * identity as a holder: when it is gone (the process died), any replica's sweep ends its held approvals
 * as abandoned. Each reconnection re-reads everything, as does a timer every resync_seconds, which also
 * sweeps expired and abandoned approvals.
 */
export class PgApprovalStore implements ApprovalStore {
  readonly shared = true;
  readonly #sql: ApprovalSql;
  #mirror = new Map<string, { a: Approval; text: string }>();
  readonly #changed: ((a: Approval) => void)[] = [];
  readonly #swept: ((a: Approval) => void)[] = [];
  readonly #db: SerialConnection;
  readonly #listener: NotifyListener;
  /** The backend pid of the LISTEN connection while it is up: what `held_by` names. */
  #pid: number | undefined;
  #resync: NodeJS.Timeout | undefined;

  constructor(
    upstream: UpstreamConfig,
    schema: string,
    private readonly log: Logger,
    private readonly resyncSeconds: number,
    private readonly historySize = 1000,
  ) {
    this.#sql = new ApprovalSql(schema);
    this.#db = new SerialConnection(upstream, "regate-approvals", "approval store", STORE_STARTUP);
    this.#listener = new NotifyListener({
      upstream,
      channel: APPROVALS_CHANNEL,
      applicationName: "regate-approvals-listen",
      params: STORE_STARTUP,
      name: "approval store listener",
      log,
      onNotify: (id) => {
        if (/^apr_[0-9a-f]{16}$/.test(id)) void this.read(id).catch((err: unknown) => this.log.warn({ err, approval_id: id }, "approval store re-read failed"));
      },
      onListening: (pid, first) => {
        // The holder's pid: a replica whose listener is gone no longer holds anything (abandoned).
        this.#pid = pid;
        // Anything may have changed while nobody listened.
        if (!first) return this.reload();
      },
      onLost: () => {
        this.#pid = undefined;
      },
    });
  }

  /** Creates the table and reads it; throws when the database cannot be reached (regate must not start blind). */
  async start(): Promise<void> {
    await ensureStoreTables(this.#db, this.#sql.t, approvalsTableSql(this.#sql.t.split(".")[0]!));
    await this.reload();
    await this.#listener.start(true);
    this.#resync = setInterval(() => void this.#resyncNow(), this.resyncSeconds * 1000);
    this.#resync.unref();
  }

  get(id: string): Approval | undefined {
    return this.#mirror.get(id)?.a;
  }

  list(): Approval[] {
    return [...this.#mirror.values()].map((m) => m.a).sort((a, b) => b.requested_at.localeCompare(a.requested_at));
  }

  async pendingFor(sha256: string): Promise<Approval | undefined> {
    return this.#rows(await this.#db.query(this.#sql.pendingFor(sha256)))[0];
  }

  async read(id: string): Promise<Approval | undefined> {
    // Not through #rows: a change another replica made must be announced, so it is compared with the mirror first.
    const [[json] = []] = await this.#db.query(this.#sql.byId(id));
    if (json === undefined) return undefined;
    const a = parseRow(json);
    this.#see(a, true);
    return a;
  }

  async create(a: Approval, terms: StoredTerms, held: boolean): Promise<void> {
    await this.#db.query(this.#sql.insert(a, terms.min, terms.grantSeconds, held ? this.#pid : undefined));
    this.#see(structuredClone(a), false);
  }

  async hold(id: string, held: boolean): Promise<{ changed: boolean; approval?: Approval }> {
    const [a] = this.#rows(await this.#db.query(this.#sql.hold(id, this.#pid, held)));
    if (a) return { changed: true, approval: a };
    const now = await this.read(id);
    return { changed: false, ...(now ? { approval: now } : {}) };
  }

  async vote(id: string, vote: Vote): Promise<VoteResult> {
    const [a] = this.#rows(await this.#db.query(this.#sql.vote(id, vote)));
    if (a) return { ok: true, approval: a };
    // Why not: gone, ended, a second vote, or past its expiry / its holder gone (swept now, then not pending).
    await this.#sweep();
    const now = await this.read(id);
    if (!now) return { ok: false, error: "not_found" };
    if (now.status === "pending" && now.votes.some((v) => v.reviewer === vote.reviewer)) return { ok: false, error: "already_voted" };
    return { ok: false, error: "not_pending" };
  }

  async finish(id: string, status: Exclude<ApprovalStatus, "pending" | "approved">, reviewer?: string, comment?: string): Promise<Approval | undefined> {
    return this.#rows(await this.#db.query(this.#sql.finish(id, status, reviewer, comment)))[0];
  }

  async use(id: string): Promise<Approval | undefined> {
    return this.#rows(await this.#db.query(this.#sql.use(id)))[0];
  }

  async takeGrant(sha256: string, objects?: string): Promise<Approval | undefined> {
    return this.#rows(await this.#db.query(this.#sql.takeGrant(sha256, objects)))[0];
  }

  async revokeGrant(id: string): Promise<Approval | undefined> {
    return this.#rows(await this.#db.query(this.#sql.revokeGrant(id)))[0];
  }

  onChange(listener: (a: Approval) => void): void {
    this.#changed.push(listener);
  }

  onSwept(listener: (a: Approval) => void): void {
    this.#swept.push(listener);
  }

  /** Re-reads every pending and recent approval; those that changed are announced. */
  async reload(): Promise<void> {
    const rows = await this.#db.query(this.#sql.recent(this.historySize));
    const next = new Map<string, { a: Approval; text: string }>();
    const changed: Approval[] = [];
    for (const [json] of rows) {
      const a = parseRow(json);
      const text = JSON.stringify(a);
      if (this.#mirror.get(a.id)?.text !== text) changed.push(a);
      next.set(a.id, { a, text });
    }
    this.#mirror = next;
    for (const a of changed) this.#announce(a);
  }

  async close(): Promise<void> {
    if (this.#resync) clearInterval(this.#resync);
    this.#listener.close();
    // Queued writes (a shutdown's withdrawals) finish before the query connection goes.
    await this.#db.close();
  }

  /** Rows a statement of this replica returned: into the mirror, not announced (the service acts on them itself). */
  #rows(rows: (string | null)[][]): Approval[] {
    return rows.map(([json]) => {
      const a = parseRow(json);
      this.#mirror.set(a.id, { a, text: JSON.stringify(a) });
      return a;
    });
  }

  /** A row read after a notification or by `read`: announced when it differs from the mirror. */
  #see(a: Approval, announce: boolean): void {
    const text = JSON.stringify(a);
    const before = this.#mirror.get(a.id);
    if (before?.text === text) return;
    this.#mirror.set(a.id, { a, text });
    if (announce) this.#announce(a);
  }

  #announce(a: Approval): void {
    for (const l of this.#changed) {
      try {
        l(a);
      } catch (err) {
        this.log.warn({ err, approval_id: a.id }, "approval change listener failed");
      }
    }
  }

  async #sweep(): Promise<void> {
    for (const a of this.#rows(await this.#db.query(this.#sql.sweep()))) for (const l of this.#swept) l(a);
  }

  async #resyncNow(): Promise<void> {
    try {
      await this.#sweep();
      await this.reload();
    } catch (err) {
      this.log.warn({ err }, "approval store re-read failed");
    }
  }
}
