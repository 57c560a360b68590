// The generic signed JSON webhook (approvals.webhook.signing_secret): notifications carry regate's
// signature, and a tool holding the secret approves or refuses for a named reviewer. A bad or stale
// signature, or an unknown reviewer, changes nothing.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSignature, signedHeaders, WEBHOOK_PATH } from "../../src/admin/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

const SECRET = "webhook-signing-secret-6f2a9d";
let db: TestPostgres;
let regate: TestRegate;
let receiver: Server;
const received: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];

beforeAll(async () => {
  db = await startPostgres();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  regate = await startApprovingRegate(db, { webhook: { url: { value: url }, signing_secret: { value: SECRET } } }, approvalBundle({ reason: "payments need a human", approvers: "dba-oncall", timeout_seconds: 60 }, "signed-webhook"));
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  receiver?.close();
});

async function post(body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}${WEBHOOK_PATH}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe("signed JSON webhook", () => {
  it("signs the notification; a signed approval runs the statement once; bad, stale or unknown-reviewer requests change nothing", async () => {
    const { c, notices } = await client(regate);
    try {
      const before = Number((await db.query("SELECT amount FROM payments WHERE id = 31"))[0].amount);
      // No parameters: the notification shows all the digest covers (a held statement with parameters: below).
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = 31");
      const id = await until(() => heldId(notices));
      const note = await until(() => received.find((r) => r.body.toString("utf8").includes(id)));
      const ts = String(note.headers["x-regate-timestamp"]);
      expect(checkSignature(SECRET, ts, String(note.headers["x-regate-signature"]), note.body, Date.now() / 1000, 300)).toBeUndefined();
      expect(checkSignature("another-secret", ts, String(note.headers["x-regate-signature"]), note.body, Date.now() / 1000, 300)).toMatch(/bad/);
      const sha256 = (JSON.parse(note.body.toString("utf8")) as { approval: { sha256: string } }).approval.sha256;

      const approve = { id, action: "approve", reviewer: REVIEWER.name, sha256 };
      const text = JSON.stringify(approve);
      expect((await post(approve, { "x-regate-timestamp": ts, "x-regate-signature": "v1=" + "0".repeat(64) })).status).toBe(401);
      expect((await post(approve, signedHeaders(SECRET, text, Math.floor(Date.now() / 1000) - 3600))).status).toBe(401);
      expect((await post({ ...approve, reviewer: "mallory" }, signedHeaders(SECRET, JSON.stringify({ ...approve, reviewer: "mallory" })))).status).toBe(403);
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 31"))[0].amount)).toBe(before);

      const ok = await post(approve, signedHeaders(SECRET, text));
      expect(ok).toEqual({ status: 200, body: { id, status: "approved", reviewer: REVIEWER.name } });
      expect((await held).rowCount).toBe(1);
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 31"))[0].amount)).toBe(before + 1);

      const second = c.query("UPDATE payments SET amount = 0 WHERE id = $1", [31]).catch((e: pg.DatabaseError) => e);
      const id2 = await until(() => heldId(notices.slice(1)));
      const refuse = { id: id2, action: "refuse", reviewer: REVIEWER.name, comment: "not during the freeze" };
      expect((await post(refuse, signedHeaders(SECRET, JSON.stringify(refuse)))).status).toBe(200);
      expect(((await second) as pg.DatabaseError).code).toBe("42501");
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 31"))[0].amount)).toBe(before + 1);
    } finally {
      await c.end();
    }
  });

  it("refuses to approve a statement whose parameter values the notification never carried (409, nothing runs); the approvals page approves it", async () => {
    const { c, notices } = await client(regate);
    try {
      const before = Number((await db.query("SELECT amount FROM payments WHERE id = 32"))[0].amount);
      // A value the tool's reviewer never sees: far past anything a chat message would show.
      const amount = `${"0".repeat(5000)}7`;
      const held = c.query("UPDATE payments SET amount = $1 WHERE id = $2", [amount, 32]);
      const id = await until(() => heldId(notices));
      const note = await until(() => received.find((r) => r.body.toString("utf8").includes(id)));
      const sent = note.body.toString("utf8");
      expect(sent).not.toContain("0".repeat(5000));
      const sha256 = (JSON.parse(sent) as { approval: { sha256: string } }).approval.sha256;

      const approve = { id, action: "approve", reviewer: REVIEWER.name, sha256 };
      const answer = await post(approve, signedHeaders(SECRET, JSON.stringify(approve)));
      expect(answer).toEqual({
        status: 409,
        body: { error: "not_shown_in_notification", next_step: "the values of 2 parameters ($1…$2) are not sent in the notification: read and approve it on regate's approvals page (/approvals/ui on the admin listener); refusing works here" },
      });
      expect((await api(regate, `/approvals/${id}`)).body.status).toBe("pending");
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 32"))[0].amount)).toBe(before);
      expect(regate.logs()).toContain('"why":"not shown in the notification"');

      // The approvals page shows the values; approving there runs the held statement once.
      expect((await api(regate, `/approvals/${id}/approve`, { sha256 })).status).toBe(200);
      expect((await held).rowCount).toBe(1);
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 32"))[0].amount)).toBe(7);
    } finally {
      await c.end();
    }
  });
});

describe("signed JSON webhook with Slack messages (approvals.slack)", () => {
  let slackRegate: TestRegate;
  beforeAll(async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/slack`;
    slackRegate = await startApprovingRegate(
      db,
      { webhook: { url: { value: url }, signing_secret: { value: SECRET } }, slack: { signing_secret: { value: "slack-signing-secret-3e9d01" }, users: { U0ALICE: REVIEWER.name } } },
      approvalBundle({ reason: "payments need a human", approvers: "dba-oncall", timeout_seconds: 60 }, "signed-webhook-slack"),
    );
  }, 120_000);
  afterAll(async () => {
    await slackRegate?.stop();
  });

  it("refuses to approve a statement longer than the Slack message showed, though it has no parameters", async () => {
    const { c, notices } = await client(slackRegate);
    try {
      const before = Number((await db.query("SELECT amount FROM payments WHERE id = 33"))[0].amount);
      // The tail past what Slack shows changes what runs.
      const sql = `UPDATE payments SET amount = amount + 1 /* ${"x".repeat(3000)} */, status = 'refunded' WHERE id = 33`;
      const held = c.query(sql).catch((e: pg.DatabaseError) => e);
      const id = await until(() => heldId(notices));
      const note = await until(() => received.find((r) => r.body.toString("utf8").includes(id)));
      const button = JSON.parse(note.body.toString("utf8")).blocks.flatMap((b: any) => b.elements ?? []).find((e: any) => e.action_id === "regate_refuse");
      const sha256 = (JSON.parse(button.value) as { sha256: string }).sha256;
      const approve = { id, action: "approve", reviewer: REVIEWER.name, sha256 };
      const res = await fetch(`http://127.0.0.1:${slackRegate.app.ports.admin}${WEBHOOK_PATH}`, { method: "POST", headers: { "content-type": "application/json", ...signedHeaders(SECRET, JSON.stringify(approve)) }, body: JSON.stringify(approve) });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { next_step: string }).next_step).toMatch(/^the statement is \d+ characters and Slack shows the first 2500: read and approve it on regate's approvals page/);
      expect(Number((await db.query("SELECT amount FROM payments WHERE id = 33"))[0].amount)).toBe(before);
      const refuse = { id, action: "refuse", reviewer: REVIEWER.name, comment: "not shown whole" };
      expect((await fetch(`http://127.0.0.1:${slackRegate.app.ports.admin}${WEBHOOK_PATH}`, { method: "POST", headers: { "content-type": "application/json", ...signedHeaders(SECRET, JSON.stringify(refuse)) }, body: JSON.stringify(refuse) })).status).toBe(200);
      expect(((await held) as pg.DatabaseError).code).toBe("42501");
    } finally {
      await c.end();
    }
  });
});
