// The review URL regate names when approvals.review_url is not set: the admin listener's /approvals/ui, on
// the port it is bound to. With admin.listen.port 0 (as every test here has it) the configured port names
// no listener; the agent's notice and refusal, the chat webhook and Slack's "Open in regate" button must
// name the real one.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { approvalBundle, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let chat: TestRegate;
let slack: TestRegate;
let receiver: Server;
const received: string[] = [];

beforeAll(async () => {
  db = await startPostgres();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push(Buffer.concat(chunks).toString("utf8"));
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const url = { value: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` };
  // Held at most 1 s, then answered "still pending" with the URL in its next step.
  const bundle = approvalBundle({ reason: "payments need a human", approvers: "dba-oncall", timeout_seconds: 60, hold_max_seconds: 1 }, "review-url");
  chat = await startApprovingRegate(db, { webhook: { url } }, bundle);
  slack = await startApprovingRegate(db, { webhook: { url }, slack: { signing_secret: { value: "slack-signing-secret-review-url" }, users: { U0REVIEW: "alice" } } }, bundle);
}, 120_000);

afterAll(async () => {
  await chat?.stop();
  await slack?.stop();
  await db?.stop();
  receiver?.close();
});

describe("review URL with admin.listen.port 0", () => {
  it("the hold notice, the still-pending refusal and the chat webhook name the admin listener's bound port", async () => {
    const ui = `http://127.0.0.1:${chat.app.ports.admin}/approvals/ui`;
    expect(chat.app.ports.admin).toBeGreaterThan(0);
    const { c, notices } = await client(chat);
    try {
      const refused = await c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [33]).then(
        () => undefined,
        (e: Error) => e,
      );
      const id = heldId(notices)!;
      expect(id).toMatch(/^apr_/);
      expect(notices.find((n) => n.message?.includes(id))?.hint).toBe(`a reviewer approves or refuses at ${ui}; cancelling the statement withdraws the request`);
      expect(refused?.message).toContain(`(${ui})`);
      const note = await until(() => received.find((b) => b.includes(id) && b.includes("Review:")));
      expect(JSON.parse(note).text).toMatch(new RegExp(`Review: ${ui.replace(/[.]/g, "\\.")}$`));
      expect(`${refused?.message} ${note}`).not.toContain(":0/approvals/ui");
    } finally {
      await c.end();
    }
  });

  it("Slack's Open in regate button names it too", async () => {
    const ui = `http://127.0.0.1:${slack.app.ports.admin}/approvals/ui`;
    const { c, notices } = await client(slack);
    try {
      await c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [34]).catch(() => undefined);
      const id = heldId(notices)!;
      const note = await until(() => received.find((b) => b.includes(id) && b.includes("regate_open")));
      const open = JSON.parse(note).blocks.flatMap((b: any) => b.elements ?? []).find((e: any) => e.action_id === "regate_open");
      expect(open.url).toBe(ui);
    } finally {
      await c.end();
    }
  });
});
