// Red-team case for the ApprovalStore contract: a grant a lock revoked is used by no re-run, on either
// store (memory; two PgApprovalStore replicas on one real PostgreSQL).
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
  const s = new PgApprovalStore(upstream, "redteam", log, 600);
  await s.start();
  opened.push(s);
  return s;
}

const kinds: [string, () => Promise<[ApprovalStore, ApprovalStore]>][] = [
  ["memory", async () => { const m = new MemoryApprovalStore(); return [m, m]; }],
  ["postgres, two replicas", async () => [await pgStore(), await pgStore()]],
];

function approval(): Approval {
  const now = Date.now();
  return {
    id: `apr_${randomBytes(8).toString("hex")}`,
    status: "pending", kind: "postgres", mode: "defer", decision_id: "d", reason: "r", approvers: "", groups: [], min: 1,
    reason_required: false, votes: [], principal: "agent", target: "db", session_id: "s", statement: { message: "query", sql: "UPDATE t SET a = 1" },
    sha256: randomBytes(32).toString("hex"), in_transaction: false, requested_at: new Date(now).toISOString(), expires_at: new Date(now + 60_000).toISOString(),
  };
}
const vote = (reviewer: string) => ({ reviewer, at: new Date().toISOString() });

describe.each(kinds)("ApprovalStore.revokeGrant (%s)", (_name, open) => {
  it("a revoked grant (a lock) is used by no re-run on any replica; a used or held approval has none to revoke", async () => {
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
