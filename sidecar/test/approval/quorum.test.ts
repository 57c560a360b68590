// Quorum, reviewer groups and who may never vote, through the approvals API against a real regate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, REVIEWER, startApprovingRegate } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;
const BOB = "bob-token-51c2-8e0a", CAROL = "carol-token-9e07", AGENT_NAMED = "agent-named-token-44aa";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(
    db,
    {
      reviewers: [
        { name: REVIEWER.name, token: { value: REVIEWER.token }, groups: ["dba-oncall"] },
        { name: "bob", token: { value: BOB }, groups: ["finance"] },
        { name: "carol", token: { value: CAROL }, groups: ["finance", "dba-oncall"] },
        // A reviewer entry that carries the agent's own name: it never votes.
        { name: "test-agent", token: { value: AGENT_NAMED }, groups: ["finance"] },
      ],
    },
    approvalBundle({ reason: "payments writes need two from finance", approvers: ["finance"], min: 2, reason_required: true, timeout_seconds: 120, mode: "defer", grant_seconds: 60 }),
  );
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

describe("quorum and reviewer groups", () => {
  it("needs two distinct finance reviewers with a comment; outsiders, the requester and repeat votes are refused", async () => {
    const before = await amount(41);
    const { c } = await client(regate);
    try {
      const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 41";
      const e = await c.query(sql).catch((x: Error) => x);
      const id = /approval requested as (apr_[0-9a-f]{16})/.exec((e as Error).message)![1]!;
      const a = (await api(regate, `/approvals/${id}`)).body;
      expect(a).toMatchObject({ groups: ["finance"], min: 2, reason_required: true, votes: [] });
      const vote = (token: string, comment?: string) => api(regate, `/approvals/${id}/approve`, { sha256: a.sha256, ...(comment ? { comment } : {}) }, token);
      expect(await vote(REVIEWER.token, "fine")).toEqual({ status: 403, body: { error: "not_an_approver" } });
      expect(await vote(AGENT_NAMED, "fine")).toEqual({ status: 403, body: { error: "self_approval" } });
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "no" }, AGENT_NAMED)).status).toBe(403);
      expect(await vote(BOB)).toEqual({ status: 400, body: { error: "reason_required" } });
      const one = await vote(BOB, "ticket 7");
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({ status: "pending", votes: [{ reviewer: "bob", comment: "ticket 7" }] });
      expect(await vote(BOB, "again")).toEqual({ status: 409, body: { error: "already_voted" } });
      // One vote is not enough: the re-run is still refused.
      expect(((await c.query(sql).catch((x: Error) => x)) as Error).message).toMatch(new RegExp(`still pending as ${id}`));
      expect(await amount(41)).toBe(before);
      const two = await vote(CAROL, "agreed");
      expect(two.body).toMatchObject({ status: "approved", reviewer: "carol", votes: [{ reviewer: "bob" }, { reviewer: "carol" }] });
      expect((await c.query(sql)).rowCount).toBe(1);
      expect(await amount(41)).toBe(before + 1);
    } finally {
      await c.end();
    }
  });

  it("one refusal refuses, whatever the quorum", async () => {
    const { c } = await client(regate);
    try {
      const sql = "UPDATE payments SET amount = 0 WHERE id = 42";
      const e = await c.query(sql).catch((x: Error) => x);
      const id = /approval requested as (apr_[0-9a-f]{16})/.exec((e as Error).message)![1]!;
      const r = await api(regate, `/approvals/${id}/refuse`, { comment: "no zeroing" }, BOB);
      expect(r.body).toMatchObject({ status: "refused", reviewer: "bob" });
      // The approval is over; the next identical run asks anew.
      const next = ((await c.query(sql).catch((x: Error) => x)) as Error).message;
      expect(next).toMatch(/approval requested as apr_/);
      expect(next).not.toContain(id);
    } finally {
      await c.end();
    }
  });
});
