// The ApprovalStore contract, table-driven over both stores: the memory store (one replica) and two
// PgApprovalStore instances on one real PostgreSQL (two replicas). The compare-and-set transitions must
// let exactly one of several concurrent callers win, whichever replica they run on.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryApprovalStore, PgApprovalStore, type Approval, type ApprovalStore } from "../../src/approval/index.js";
import type { UpstreamConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";

let db: TestPostgres;
const opened: ApprovalStore[] = [];
const log = createLogger({ level: "silent" });

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
}, 120_000);

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db?.stop();
});

async function pgStore(): Promise<PgApprovalStore> {
  const password = db.users.scram.password;
  const upstream = { host: db.host, port: db.port, database: db.database, user: db.users.scram.user, password: { reveal: () => password }, sslmode: "disable", connect_timeout_ms: 5000 } as unknown as UpstreamConfig;
  const s = new PgApprovalStore(upstream, "contract", log, 600);
  await s.start();
  opened.push(s);
  return s;
}

/** Two handles on one store: the same object (memory), or two replicas (postgres). */
const kinds: [string, () => Promise<[ApprovalStore, ApprovalStore]>][] = [
  ["memory", async () => { const m = new MemoryApprovalStore(); return [m, m]; }],
  ["postgres, two replicas", async () => [await pgStore(), await pgStore()]],
];

function approval(sha256 = randomBytes(32).toString("hex")): Approval {
  const now = Date.now();
  return {
    id: `apr_${randomBytes(8).toString("hex")}`,
    status: "pending", kind: "postgres", mode: "defer", decision_id: "d", reason: "r", approvers: "", groups: [], min: 1,
    reason_required: false, votes: [], principal: "agent", target: "db", session_id: "s", statement: { message: "query", sql: "UPDATE t SET a = 1" },
    sha256, in_transaction: false, requested_at: new Date(now).toISOString(), expires_at: new Date(now + 60_000).toISOString(),
  };
}
const vote = (reviewer: string) => ({ reviewer, at: new Date().toISOString() });

describe.each(kinds)("ApprovalStore (%s)", (_name, open) => {
  it("a quorum of distinct reviewers approves; a second vote by one reviewer is refused; nothing moves after", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create({ ...a, min: 2 }, { min: 2, grantSeconds: 60 }, false);
    expect(await two.vote(a.id, vote("alice"))).toMatchObject({ ok: true, approval: { status: "pending" } });
    expect(await one.vote(a.id, vote("alice"))).toEqual({ ok: false, error: "already_voted" });
    const done = await one.vote(a.id, vote("bob"));
    expect(done).toMatchObject({ ok: true, approval: { status: "approved", reviewer: "bob" } });
    expect(done.ok && done.approval.votes.map((v) => v.reviewer)).toEqual(["alice", "bob"]);
    expect(done.ok && done.approval.grant_expires_at).toBeTruthy();
    expect(await two.vote(a.id, vote("carol"))).toEqual({ ok: false, error: "not_pending" });
    expect(await two.finish(a.id, "refused", "carol", "late")).toBeUndefined();
    expect(await one.vote("apr_ffffffffffffffff", vote("alice"))).toEqual({ ok: false, error: "not_found" });
  });

  it("one grant, ten concurrent re-runs on two replicas: exactly one uses it", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create(a, { min: 1, grantSeconds: 60 }, false);
    expect((await two.vote(a.id, vote("alice"))).ok).toBe(true);
    const taken = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).takeGrant(a.sha256)));
    expect(taken.filter(Boolean).map((x) => x!.id)).toEqual([a.id]);
    expect(await one.takeGrant(a.sha256)).toBeUndefined();
  });

  it("approved while held: no grant, and the holder uses it once", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create(a, { min: 1, grantSeconds: 60 }, true);
    const v = await two.vote(a.id, vote("alice"));
    expect(v.ok && v.approval.grant_expires_at).toBeFalsy();
    expect(await two.takeGrant(a.sha256)).toBeUndefined();
    const used = await Promise.all([one.use(a.id), two.use(a.id), one.use(a.id)]);
    expect(used.filter(Boolean)).toHaveLength(1);
  });

  it("concurrent transitions from pending: one wins", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create(a, { min: 1, grantSeconds: 60 }, false);
    const results = await Promise.all([one.finish(a.id, "withdrawn", undefined, "client"), two.finish(a.id, "refused", "alice", "no"), two.vote(a.id, vote("bob"))]);
    const winners = [results[0], results[1], results[2].ok ? results[2].approval : undefined].filter(Boolean);
    expect(winners).toHaveLength(1);
    expect((await two.read(a.id))?.status).toBe(winners[0]!.status);
  });

  it("a pending approval is found by its digest from either handle, and held by one holder at a time", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create(a, { min: 1, grantSeconds: 60 }, false);
    expect((await two.pendingFor(a.sha256))?.id).toBe(a.id);
    expect((await one.hold(a.id, true)).changed).toBe(true);
    if (one !== two) expect((await two.hold(a.id, true)).changed).toBe(false);
    expect((await one.hold(a.id, false)).changed).toBe(true);
    await two.finish(a.id, "withdrawn");
    expect(await one.pendingFor(a.sha256)).toBeUndefined();
  });

  it("revokeGrant (a lock): a revoked grant is used by no re-run on any replica; a used or held approval has none to revoke", async () => {
    const [one, two] = await open();
    const a = approval();
    await one.create(a, { min: 1, grantSeconds: 60 }, false);
    expect((await two.vote(a.id, vote("alice"))).ok).toBe(true);
    const revoked = await two.revokeGrant(a.id);
    expect(revoked?.id).toBe(a.id);
    expect(Date.parse(revoked!.grant_expires_at!)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await one.takeGrant(a.sha256)).toBeUndefined();
    expect(await two.takeGrant(a.sha256)).toBeUndefined();
    expect(await one.revokeGrant(a.id)).toBeUndefined();
    const used = approval();
    await one.create(used, { min: 1, grantSeconds: 60 }, false);
    await one.vote(used.id, vote("alice"));
    expect((await two.takeGrant(used.sha256))?.id).toBe(used.id);
    expect(await one.revokeGrant(used.id)).toBeUndefined();
  });
});
