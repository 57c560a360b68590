// Approvals shared by replicas (approvals.store: postgres): replica A is its own regate process (so it can
// be killed), replica B runs in this process; both in front of one PostgreSQL, which also holds the
// approvals table. A reviewer acting on B releases or refuses the statement a client holds on A; a grant
// approved on B is used by exactly one re-run across both replicas; a holder that dies leaves its
// approval abandoned, and nothing runs later.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuild } from "../policy/opa.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { startRegateChild, type RegateChild } from "../reliability/support/regate-child.js";
import { api, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let a: RegateChild;
let b: TestRegate;
let policy: string;

/**
 * Writes to payments need approval: held up to 30 s, or deferred when the statement says `defer`; two
 * reviewers when it says `quorum`; pending 2 s when it says `expire`.
 */
function bundle(): string {
  const rego = `package regate

needs_approval if {
	some s in input.postgres.statements
	some t in s.tables
	t.access == "write"
	t.name == "payments"
}

mode := "defer" if {
	some s in input.postgres.statements
	contains(s.sql, "defer")
} else := "hold"

quorum := 2 if {
	some s in input.postgres.statements
	contains(s.sql, "quorum")
} else := 1

timeout := 2 if {
	some s in input.postgres.statements
	contains(s.sql, "expire")
} else := 120

approval := {"approve": {"reason": "payments writes need approval", "approvers": "dba-oncall", "timeout_seconds": timeout, "hold_max_seconds": 30, "mode": mode, "grant_seconds": 60, "min": quorum}} if needs_approval
else := {}

decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;
  const path = join(mkdtempSync(join(tmpdir(), "regate-shared-apr-")), "bundle.tar.gz");
  writeFileSync(path, opaBuild({ revision: "shared-approvals", rego }));
  return path;
}

const shared = { store: "postgres", resync_seconds: 1 };
const BOB = { name: "bob", token: "reviewer-token-b0b5e1" };
const reviewers = [
  { name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] },
  { name: BOB.name, token: { value: BOB.token }, groups: ["dba-oncall"] },
];

beforeAll(async () => {
  db = await startPostgres();
  // regate creates its schema and table; its upstream role needs CREATE on the database for that.
  await db.query(`GRANT CREATE ON DATABASE ${db.database} TO ${db.users.scram.user}`);
  policy = bundle();
  // The same agent and target on both replicas: the digest names them, so a grant can be used on either.
  a = await startRegateChild({
    name: "approvals-shared",
    pg: db,
    bundle: policy,
    overrides: {
      agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }] },
      postgres: { target: "test-db" },
      approvals: { enabled: true, timeout_seconds: 120, reviewers, ...shared },
    },
  });
  b = await startApprovingRegate(db, { ...shared, reviewers }, policy);
}, 120_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.stop();
});

async function clientOf(url: string): Promise<{ c: pg.Client; notices: pg.NoticeMessage[] }> {
  const c = new pg.Client({ connectionString: url });
  const notices: pg.NoticeMessage[] = [];
  c.on("notice", (n) => notices.push(n));
  c.on("error", () => undefined);
  await c.connect();
  return { c, notices };
}

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const row = async (id: string) => (await db.query("SELECT status, reviewer, held_by, used_at, grant_expires_at FROM regate.approval_requests WHERE id = $1", [id]))[0];
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: pg.DatabaseError) => e);
/** B's view of an approval, once B's mirror has it (NOTIFY carried its id). */
const onB = (id: string, status = "pending") => until(async () => ((await api(b, `/approvals/${id}`)).body.status === status ? (await api(b, `/approvals/${id}`)).body : undefined));
const requestedId = (e: Error | undefined) => /approval requested as (apr_[0-9a-f]{16})/.exec(e?.message ?? "")?.[1];
/** A reviewer's POST on A's admin listener. */
const onA = async (path: string, body: unknown, token: string) => {
  const res = await fetch(`http://127.0.0.1:${a.ports.admin}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};
const eventsOf = (text: string, id: string, event: string) => text.split("\n").filter((l) => l.includes(`"event":"${event}"`) && l.includes(id)).length;

describe("approvals shared by replicas (approvals.store: postgres)", () => {
  it("approved on B, the UPDATE held on A runs once; each transition is one event, on the replica that made it", async () => {
    const before = await amount(41);
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    try {
      const q = c.query("UPDATE payments SET amount = amount + 1 WHERE id = 41");
      const id = await until(() => heldId(notices));
      const seen = await onB(id);
      expect(seen).toMatchObject({ principal: AGENT.user, target: "test-db", status: "pending" });
      expect((await row(id)).held_by).not.toBeNull();
      const started = Date.now();
      const ok = await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256, comment: "ticket 41" });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ status: "approved", reviewer: REVIEWER.name });
      expect(ok.body.grant_expires_at).toBeUndefined();
      expect((await q).rowCount).toBe(1);
      console.log(`approve on B -> held UPDATE on A answered in ${Date.now() - started} ms`);
      expect(await amount(41)).toBe(before + 1);
      expect((await row(id)).used_at).not.toBeNull();
      // Approving again changes nothing: the compare-and-set on pending lost.
      expect((await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).body.error).toBe("not_pending");
      expect(await amount(41)).toBe(before + 1);
      await until(async () => (await a.grepStdout(new RegExp(id), 50)).length >= 1);
      const aLog = (await a.grepStdout(new RegExp(id), 50)).join("\n");
      expect(eventsOf(b.logs(), id, "approval_approved")).toBe(1);
      expect(eventsOf(aLog, id, "approval_approved")).toBe(0);
      expect(eventsOf(aLog, id, "approval_requested")).toBe(1);
      expect(eventsOf(b.logs(), id, "approval_requested")).toBe(0);
    } finally {
      await c.end();
    }
  });

  it("refused on B: A's client gets 42501 with the reviewer's reason, nothing ran, the session goes on", async () => {
    const before = await amount(42);
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    try {
      const q = refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = 42"));
      const id = await until(() => heldId(notices));
      await onB(id);
      expect((await api(b, `/approvals/${id}/refuse`, { comment: "not during the freeze" })).status).toBe(200);
      const err = await q;
      expect(err?.code).toBe("42501");
      expect(err?.message).toContain(`approval ${id} refused by ${REVIEWER.name}: not during the freeze`);
      expect(await amount(42)).toBe(before);
      expect((await row(id)).status).toBe("refused");
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("a client hanging up on A withdraws the approval for B too", async () => {
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    void refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = 45"));
    const id = await until(() => heldId(notices));
    const seen = await onB(id);
    await c.end();
    await onB(id, "withdrawn");
    expect((await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).body.error).toBe("not_pending");
  });

  it("deferred on A, approved on B: the re-run on A runs once; a re-run on B after that needs a new approval", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 43 -- defer";
    const before = await amount(43);
    const onA = await clientOf(a.url(AGENT.user, AGENT.token));
    const onBc = await clientOf(b.url());
    try {
      const first = await refusal(onA.c.query(sql));
      const id = requestedId(first)!;
      expect(first?.code).toBe("42501");
      const seen = await onB(id);
      const ok = await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 });
      expect(ok.body).toMatchObject({ status: "approved" });
      expect(ok.body.grant_expires_at).toBeDefined();
      expect((await onA.c.query(sql)).rowCount).toBe(1);
      expect(await amount(43)).toBe(before + 1);
      const again = await refusal(onBc.c.query(sql));
      expect(again?.code).toBe("42501");
      expect(requestedId(again)).toMatch(/^apr_/);
      expect(requestedId(again)).not.toBe(id);
      expect(await amount(43)).toBe(before + 1);

      // Re-runs racing on both replicas for one grant: exactly one runs.
      const race = "UPDATE payments SET amount = amount + 1 WHERE id = 44 -- defer";
      const before44 = await amount(44);
      const rid = requestedId(await refusal(onBc.c.query(race)))!;
      const r = await onB(rid);
      expect((await api(b, `/approvals/${rid}/approve`, { sha256: r.sha256 })).status).toBe(200);
      const results = await Promise.all([onA.c.query(race).then(() => "ran", (e: Error) => e.message), onBc.c.query(race).then(() => "ran", (e: Error) => e.message)]);
      expect(results.filter((x) => x === "ran")).toHaveLength(1);
      expect(results.find((x) => x !== "ran")).toMatch(/approval (requested|still pending) as apr_/);
      expect(await amount(44)).toBe(before44 + 1);
    } finally {
      await onA.c.end();
      await onBc.c.end();
    }
  });

  it("a quorum gathers votes on both replicas: one per reviewer; the vote that completes it releases the held statement", async () => {
    const before = await amount(47);
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    try {
      const q = c.query("UPDATE payments SET amount = amount + 1 WHERE id = 47 -- quorum");
      const id = await until(() => heldId(notices));
      const seen = await onB(id);
      expect(seen.min).toBe(2);
      const first = await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 });
      expect(first.body).toMatchObject({ status: "pending", votes: [{ reviewer: REVIEWER.name }] });
      // The same reviewer on the other replica: still one vote.
      expect(await onA(`/approvals/${id}/approve`, { sha256: seen.sha256 }, REVIEWER.token)).toMatchObject({ status: 409, body: { error: "already_voted" } });
      expect(await amount(47)).toBe(before);
      const second = await onA(`/approvals/${id}/approve`, { sha256: seen.sha256 }, BOB.token);
      expect(second.body).toMatchObject({ status: "approved", reviewer: BOB.name });
      expect(second.body.votes.map((v: { reviewer: string }) => v.reviewer)).toEqual([REVIEWER.name, BOB.name]);
      expect((await q).rowCount).toBe(1);
      expect(await amount(47)).toBe(before + 1);
      expect(eventsOf(b.logs(), id, "approval_vote")).toBe(1);
      await until(async () => (await a.grepStdout(new RegExp(`approval_approved.*${id}`))).length === 1);
      expect(eventsOf(b.logs(), id, "approval_approved")).toBe(0);
    } finally {
      await c.end();
    }
  });

  it("expiry: whichever replica expires it first, A's held client gets 57014 and it is logged once", async () => {
    const before = await amount(48);
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    try {
      const q = refusal(c.query("UPDATE payments SET amount = amount + 1 WHERE id = 48 -- expire"));
      const id = await until(() => heldId(notices));
      const err = await q;
      expect(err?.code).toBe("57014");
      expect(err?.message).toContain(`approval ${id} expired after 2s`);
      expect((await row(id)).status).toBe("expired");
      expect(await amount(48)).toBe(before);
      // Whichever replica won the compare-and-set logs it (A's log is a file written asynchronously).
      const logged = async () => eventsOf((await a.grepStdout(new RegExp(`approval_expired.*${id}`))).join("\n"), id, "approval_expired") + eventsOf(b.logs(), id, "approval_expired");
      await until(async () => (await logged()) > 0);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await logged()).toBe(1);
    } finally {
      await c.end();
    }
  });

  it("agents cannot reach the approvals table through regate, whatever the policy", async () => {
    const { c } = await clientOf(b.url());
    try {
      for (const sql of ["SELECT * FROM regate.approval_requests", "UPDATE regate.approval_requests SET status = 'approved'", "SET search_path = regate; DELETE FROM approval_requests"]) {
        const err = await refusal(c.query(sql));
        expect(err?.code).toBe("42501");
        expect(err?.message).toContain("holds regate's approvals");
      }
      const hidden = await refusal(c.query("DO $$ BEGIN DELETE FROM regate.approval_requests; END $$"));
      expect(hidden?.code).toBe("42501");
      expect(hidden?.message).toContain("regate cannot see what this statement runs");
      expect((await c.query("SELECT count(*)::int AS n FROM orders")).rows[0].n).toBeGreaterThan(0);
    } finally {
      await c.end();
    }
  });

  it("the replica holding a statement dies: the approval ends abandoned and a later approval cannot run it", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 46";
    const before = await amount(46);
    const { c, notices } = await clientOf(a.url(AGENT.user, AGENT.token));
    void refusal(c.query(sql));
    const id = await until(() => heldId(notices));
    const seen = await onB(id);
    a.process.kill("SIGKILL");
    // A's backends end once the kernel closes its sockets; B's resync (1 s) or the next vote sweeps.
    const gone = await onB(id, "abandoned");
    expect(gone.comment).toBe("the replica holding the statement is gone");
    expect((await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).body.error).toBe("not_pending");
    expect((await row(id)).status).toBe("abandoned");
    // The same statement on B is a new request: no grant was left behind.
    const onBc = await clientOf(b.url());
    try {
      const err = await refusal(onBc.c.query(`${sql} -- defer`));
      expect(err?.code).toBe("42501");
      expect(requestedId(err)).not.toBe(id);
    } finally {
      await onBc.c.end();
    }
    expect(await amount(46)).toBe(before);
    expect(eventsOf(b.logs(), id, "approval_abandoned")).toBe(1);
  });

  it("while the table cannot be used, a statement needing approval fails closed (08006) and reviewers get 503; both work again after", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 49 -- defer";
    const before = await amount(49);
    const { c } = await clientOf(b.url());
    try {
      const id = requestedId(await refusal(c.query(sql)))!;
      const seen = await onB(id);
      await db.query("ALTER TABLE regate.approval_requests RENAME TO approval_requests_away");
      try {
        const err = await refusal(c.query(sql));
        expect(err?.code).toBe("08006");
        expect(err?.message).toContain("the approval store cannot be reached; the statement was not run");
        expect(await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).toMatchObject({ status: 503, body: { error: "store_unavailable" } });
      } finally {
        await db.query("ALTER TABLE regate.approval_requests_away RENAME TO approval_requests");
      }
      expect((await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).status).toBe(200);
      expect((await c.query(sql)).rowCount).toBe(1);
      expect(await amount(49)).toBe(before + 1);
    } finally {
      await c.end();
    }
  });

  it("a replica re-reads every approval after its listener reconnects", async () => {
    // resync_seconds 600: only the notification or the re-read after reconnecting can bring the change.
    const c3 = await startApprovingRegate(db, { ...shared, resync_seconds: 600, reviewers }, policy);
    const { c } = await clientOf(c3.url());
    try {
      const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 50 -- defer";
      const before = await amount(50);
      const id = requestedId(await refusal(c.query(sql)))!;
      const seen = await onB(id);
      // Cut every approvals listener (B holds nothing now), then approve on B while C may not be listening.
      await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'regate-approvals-listen'");
      expect((await api(b, `/approvals/${id}/approve`, { sha256: seen.sha256 })).body.status).toBe("approved");
      await until(async () => ((await api(c3, `/approvals/${id}`)).body.status === "approved" ? true : undefined));
      await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'regate-approvals-listen'"))[0].n === 2);
      expect((await c.query(sql)).rowCount).toBe(1);
      expect(await amount(50)).toBe(before + 1);
      // An approval C has not been told of (written without NOTIFY) is still shown: read from the table.
      const unseen = "apr_00000000000000c3";
      await db.query(
        "INSERT INTO regate.approval_requests (id, sha256, status, principal, requested_at, expires_at, votes, min_votes, grant_seconds, doc) SELECT $1, sha256 || '-copy', 'pending', principal, requested_at, expires_at, '[]', min_votes, grant_seconds, doc FROM regate.approval_requests WHERE id = $2",
        [unseen, id],
      );
      expect((await api(c3, `/approvals/${unseen}`)).body).toMatchObject({ id: unseen, status: "pending" });
      expect((await api(c3, "/approvals/apr_00000000000000c4")).status).toBe(404);
    } finally {
      await c.end();
      await c3.stop();
    }
  });

  it("a replica that cannot create or read the approvals table does not start", async () => {
    await db.query(`REVOKE CREATE ON DATABASE ${db.database} FROM ${db.users.scram.user}`);
    await expect(startApprovingRegate(db, { ...shared, schema: "regate_missing" })).rejects.toThrow(
      /cannot create or read the approvals table regate_missing\.approval_requests \(approvals\.store: postgres\): .*permission denied/,
    );
  });
});
