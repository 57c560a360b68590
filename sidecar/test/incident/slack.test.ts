import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { until } from "./support.js";

// Approving from Slack: the notification carries Approve/Refuse buttons; Slack posts the click, signed with
// the app's signing secret, to the admin listener. A correctly signed click by a mapped user approves (the held
// statement runs); a bad signature, a stale timestamp or an unknown user is refused and changes nothing.

const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
let db: TestPostgres;
let regate: TestRegate;
let hook: Server;
const posted: any[] = [];

beforeAll(async () => {
  db = await startPostgres();
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      posted.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  regate = await startRegate(db, {
    admin: { enabled: true, listen: { host: "127.0.0.1", port: 0 } },
    approvals: {
      enabled: true,
      timeout_seconds: 30,
      // The example policy names dba-oncall as the approvers of payments writes.
      reviewers: [{ name: "alice", token: { value: "reviewer-token-3c9e1b" }, groups: ["dba-oncall"] }],
      webhook: { url: { value: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } },
      slack: { signing_secret: { value: SIGNING_SECRET }, users: { U024BE7LH: "alice" } },
    },
  });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
  await new Promise((r) => hook?.close(r));
});

function interaction(user: string, button: { action_id: string; value: string }): string {
  const payload = { type: "block_actions", user: { id: user, username: "someone" }, actions: [{ ...button, type: "button" }] };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

async function click(body: string, opts: { ts?: number; secret?: string; signature?: string } = {}): Promise<{ status: number; body: any }> {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const signature = opts.signature ?? `v0=${createHmac("sha256", opts.secret ?? SIGNING_SECRET).update(`v0:${ts}:${body}`).digest("hex")}`;
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}/approvals/slack/interactions`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts, "x-slack-signature": signature },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function hold(sql: string): Promise<{ id: string; result: Promise<pg.QueryResult | pg.DatabaseError>; c: pg.Client; buttons: { action_id: string; value: string }[] }> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  const notices: string[] = [];
  c.on("notice", (n) => notices.push(n.message ?? ""));
  await c.connect();
  const result = c.query(sql).catch((e: pg.DatabaseError) => e);
  const id = await until(() => notices.map((n) => /held for approval as (apr_[0-9a-f]{16})/.exec(n)?.[1]).find(Boolean));
  // The buttons come from the message regate posted to the webhook, as Slack would render them.
  const message = await until(() => posted.find((m) => JSON.stringify(m).includes(id)));
  const actions = (message.blocks as any[]).find((b) => b.type === "actions");
  return { id, result, c, buttons: actions.elements.filter((e: any) => e.value) };
}

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

describe("Slack interactivity", () => {
  it("refuses a bad signature, a stale timestamp and an unknown user, then approves a signed click: the held statement runs once", async () => {
    const before = await amount(21);
    const { id, result, c, buttons } = await hold("UPDATE payments SET amount = amount + 5 WHERE id = 21");
    try {
      const approve = buttons.find((b) => b.action_id === "regate_approve")!;
      expect(JSON.parse(approve.value)).toEqual({ id, sha256: regate.app.approvals!.get(id)!.sha256 });
      const body = interaction("U024BE7LH", approve);

      expect(await click(body, { secret: "not-the-secret" })).toMatchObject({ status: 401, body: { error: "bad X-Slack-Signature" } });
      expect((await click(body, { signature: "v0=" })).status).toBe(401);
      expect(await click(body, { ts: Math.floor(Date.now() / 1000) - 301 })).toMatchObject({ status: 401, body: { error: expect.stringMatching(/stale/) } });
      expect(await click(interaction("U0UNKNOWN", approve))).toMatchObject({ status: 403, body: { error: expect.stringMatching(/not a regate reviewer/) } });
      // A body altered after signing (another approval id) fails the signature too.
      const ts = Math.floor(Date.now() / 1000);
      const sig = `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${ts}:${body}`).digest("hex")}`;
      expect((await click(interaction("U024BE7LH", { ...approve, value: approve.value.replace(id, "apr_0000000000000000") }), { ts, signature: sig })).status).toBe(401);
      expect(regate.app.approvals!.get(id)!.status).toBe("pending");
      expect(await amount(21)).toBe(before);

      const ok = await click(body);
      expect(ok).toEqual({ status: 200, body: { ok: true, id, status: "approved", reviewer: "alice" } });
      expect(((await result) as pg.QueryResult).rowCount).toBe(1);
      expect(await amount(21)).toBe(before + 5);
      expect(regate.app.approvals!.get(id)).toMatchObject({ status: "approved", reviewer: "alice", comment: "approved in Slack" });
      // A replayed click changes nothing more.
      expect((await click(body)).status).toBe(409);
      expect(await amount(21)).toBe(before + 5);
    } finally {
      await c.end();
    }
  });

  it("the Refuse button refuses: the agent gets 42501, nothing runs", async () => {
    const before = await amount(22);
    const { id, result, c, buttons } = await hold("UPDATE payments SET amount = 0 WHERE id = 22");
    try {
      const refuse = buttons.find((b) => b.action_id === "regate_refuse")!;
      expect((await click(interaction("U024BE7LH", refuse))).body).toMatchObject({ ok: true, status: "refused" });
      const err = (await result) as pg.DatabaseError;
      expect(err.code).toBe("42501");
      expect(err.message).toContain("refused");
      expect(await amount(22)).toBe(before);
      expect(regate.app.approvals!.get(id)).toMatchObject({ status: "refused", reviewer: "alice" });
    } finally {
      await c.end();
    }
  });
});
