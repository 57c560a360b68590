// Red-team cases: an agent writes the statement a reviewer reads, so it tries to make the reviewer approve
// something other than what they were shown. Real PostgreSQL, the pg driver, regate with a policy built by
// opa, the review page in Debian's chromium, and the Slack messages regate posts to a local endpoint.
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { chromium, type Browser, type Page } from "playwright-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackApprovalMessage } from "../../src/admin/index.js";
import { ApprovalService, reviewView, slackNotifier, type Approval } from "../../src/approval/index.js";
import { chatText } from "../../src/approval/webhook.js";
import type { Decision } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { admin, RESPONDER } from "../incident/support.js";
import { api, approvalBundle, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const SIGNING_SECRET = "slack-signing-secret-0b7e";
const SLACK_USER = "U0ALICE";
/** What must never reach a reviewer's eyes raw: controls (but newline and tab), format characters, separators. */
const RAW_HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;

let db: TestPostgres;
let regate: TestRegate;
let hook: Server;
let browser: Browser;
const posted: any[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
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
  regate = await startApprovingRegate(
    db,
    {
      timeout_seconds: 120,
      webhook: { url: { value: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } },
      slack: { signing_secret: { value: SIGNING_SECRET }, users: { [SLACK_USER]: REVIEWER.name } },
    },
    approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, hold_max_seconds: 60 }),
    { incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] }, recording: { enabled: true, dir: mkdtempSync(join(tmpdir(), "regate-deception-rec-")) } },
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await regate?.stop();
  await db?.stop();
  await new Promise((r) => hook?.close(r));
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);
const outcome = (p: Promise<unknown>) => p.then((r) => r as pg.QueryResult, (e: pg.DatabaseError) => e);

/** Holds `sql` on a new connection; its approval id, the pending result and the client. */
async function hold(sql: string, values?: unknown[]) {
  const { c, notices } = await client(regate);
  const result = outcome(c.query(sql, values));
  const id = await until(() => heldId(notices));
  return { id, result, c };
}

async function reviewPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
  await page.fill("#token", REVIEWER.token);
  await page.click("#login button");
  return page;
}

async function refuse(id: string): Promise<void> {
  if (regate.app.approvals!.get(id)?.status === "pending") await api(regate, `/approvals/${id}/refuse`, { comment: "test over" });
}

describe("the review page shows what PostgreSQL will read", () => {
  it("a carriage return ends a -- comment for PostgreSQL: the page breaks the line there and says so (the statement updates four rows)", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 31 -- only row 31\rOR id BETWEEN 32 AND 34";
    const before = await Promise.all([31, 32, 33, 34].map(amount));
    const { id, result, c } = await hold(sql);
    const page = await reviewPage();
    try {
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      const lines = (await card.locator("pre.sql").innerText()).split("\n");
      // What a reviewer reads: the comment ends where PostgreSQL ends it, and the rest is code on its own line.
      expect(lines).toEqual(["UPDATE payments SET amount = amount + 1 WHERE id = 31 -- only row 31⟨U+000D⟩", "OR id BETWEEN 32 AND 34"]);
      expect(await card.locator("ul.notes").innerText()).toContain("U+000D CARRIAGE RETURN, a line end for PostgreSQL (it ends a -- comment)");
      await card.locator("button.approve").click();
      expect(((await result) as pg.QueryResult).rowCount).toBe(4);
      expect(await Promise.all([31, 32, 33, 34].map(amount))).toEqual(before.map((a) => a + 1));
    } finally {
      await page.close();
      await c.end();
    }
  });

  it("bidi overrides and isolates, zero-width, BOM and escape characters are written as marks, never drawn; lookalike letters are named", async () => {
    const sql = "UPDATE payments SET status = 'captured' WHERE id = 35 /* \u202e,stnuocca lla\u202c */ AND status <> 'f\u2066ai\u2069led\u200b\ufeff' AND card_number <> '\u001b[2K' AND status <> 'rеfunded'";
    const { id, result, c } = await hold(sql);
    const page = await reviewPage();
    try {
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      const shown = await card.locator("pre.sql").textContent();
      expect(shown).not.toMatch(RAW_HIDDEN);
      expect(shown).toBe(
        "UPDATE payments SET status = 'captured' WHERE id = 35 /* ⟨U+202E⟩,stnuocca lla⟨U+202C⟩ */ AND status <> 'f⟨U+2066⟩ai⟨U+2069⟩led⟨U+200B⟩⟨U+FEFF⟩' AND card_number <> '⟨U+001B⟩[2K' AND status <> 'rеfunded'",
      );
      const notes = await card.locator("ul.notes").innerText();
      expect(notes).toContain("U+202E RIGHT-TO-LEFT OVERRIDE");
      expect(notes).toContain("U+200B ZERO WIDTH SPACE");
      expect(notes).toContain("е U+0435 (Cyrillic)");
      // The agent cannot forge a mark of its own: the brackets are marked too.
      await refuse(id);
      const forged = await hold("UPDATE payments SET amount = 0 WHERE id = 35 -- ⟨U+000D⟩");
      const card2 = page.locator(`.card[data-id="${forged.id}"]`);
      await card2.waitFor();
      expect(await card2.locator("pre.sql").textContent()).toBe("UPDATE payments SET amount = 0 WHERE id = 35 -- ⟨U+27E8⟩U+000D⟨U+27E9⟩");
      await refuse(forged.id);
      await forged.c.end();
    } finally {
      await page.close();
      await refuse(id);
      await result;
      await c.end();
    }
  });

  it("blank lines and spaces that would push the rest of a statement out of view are counted, and the rest is in view", async () => {
    const sql = `UPDATE payments SET amount = amount + 1 WHERE id = 36${"\n".repeat(400)}OR id > 0${" ".repeat(3000)}OR true`;
    const { id, result, c } = await hold(sql);
    const page = await reviewPage();
    try {
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      const pre = card.locator("pre.sql");
      expect(await pre.innerText()).toBe("UPDATE payments SET amount = amount + 1 WHERE id = 36\n⟨400 line breaks⟩\nOR id > 0 ⟨3000 spaces⟩ OR true");
      expect((await pre.boundingBox())!.height).toBeLessThan(120);
      expect(await card.locator("ul.notes").innerText()).toContain("shortened");
    } finally {
      await page.close();
      await refuse(id);
      await result;
      await c.end();
    }
  });

  it("masking never hides code: a 'private key' the agent wraps around SQL is shown, while real values stay masked (the statement updates two rows)", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 46 -- -----BEGIN PRIVATE KEY-----\nOR id = 47 -----END PRIVATE KEY-----";
    const before = [await amount(46), await amount(47)];
    const { id, result, c } = await hold(sql);
    const page = await reviewPage();
    try {
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      expect(await card.locator("pre.sql").innerText()).toBe(sql);
      expect(await card.locator("ul.notes").innerText()).toContain("shown unmasked");
      await card.locator("button.approve").click();
      expect(((await result) as pg.QueryResult).rowCount).toBe(2);
      expect([await amount(46), await amount(47)]).toEqual(before.map((a) => a + 1));
    } finally {
      await page.close();
      await c.end();
    }
    const key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    const values = reviewView(decision(), `INSERT INTO keys VALUES ('${key}', '4111 1111 1111 1111')`, [JSON.stringify({ key })]);
    expect(values.sql).toBe("INSERT INTO keys VALUES ('****', '**** **** **** 1111')");
    expect(values.parameters![0]).not.toContain("MIIEvQ");
    expect(values.notes).toEqual(["Statement: 2 values are masked (secret, card): you see part of them; approving approves the real values.", "Body: 1 value is masked (secret): you see part of it; approving approves the real value."]);
  });

  it("a parameter value regate passes cut: the page says it is cut, at the value and in a note", async () => {
    const long = `{${"36,".repeat(1500)}37}`;
    const { id, result, c } = await hold("UPDATE payments SET amount = amount + 1 WHERE id = ANY($1::int[])", [long]);
    const page = await reviewPage();
    try {
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      const params = await card.locator("pre.params").innerText();
      expect(params).toMatch(/^\$1 = \{36,36,.*⟨cut: the value goes on⟩ \(text\)$/s);
      expect(await card.locator("ul.notes").innerText()).toContain("Parameter $1 is cut: only its first 4096 characters are shown; approving approves the whole value.");
    } finally {
      await page.close();
      await refuse(id);
      await result;
      await c.end();
    }
  });
});

describe("the review page does not move a card under the reviewer's pointer", () => {
  const approveButton = async (page: Page, id: string) => {
    const b = page.locator(`.card[data-id="${id}"] button.approve`);
    await expect.poll(() => b.isEnabled(), { timeout: 10_000 }).toBe(true);
    const box = (await b.boundingBox())!;
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  };

  it("a new request arriving while the reviewer aims at Approve: the click approves the card they read, the newcomer stays pending", async () => {
    const before = [await amount(38), await amount(39)];
    const benign = await hold("UPDATE payments SET amount = amount + 1 WHERE id = 38");
    const page = await reviewPage();
    try {
      const aim = await approveButton(page, benign.id);
      const evil = await hold("UPDATE payments SET amount = 0 WHERE id = 39");
      await page.locator(`.card[data-id="${evil.id}"]`).waitFor();
      const armedAtOnce = await page.locator(`.card[data-id="${evil.id}"] button.approve`).isEnabled();
      await page.mouse.click(aim.x, aim.y);
      await until(() => regate.app.approvals!.get(benign.id)!.status !== "pending" || regate.app.approvals!.get(evil.id)!.status !== "pending" || undefined);
      expect(regate.app.approvals!.get(evil.id)!.status).toBe("pending");
      expect(((await benign.result) as pg.QueryResult).rowCount).toBe(1);
      // A card that has just appeared cannot be acted on yet.
      expect(armedAtOnce).toBe(false);
      expect([await amount(38), await amount(39)]).toEqual([before[0]! + 1, before[1]]);
      await refuse(evil.id);
      await evil.result;
      await evil.c.end();
    } finally {
      await page.close();
      await benign.c.end();
    }
  });

  it("a request above withdrawn while the reviewer aims: the cards below do not slide up, the click approves the card they read", async () => {
    const before = [await amount(40), await amount(41)];
    const evil = await hold("UPDATE payments SET amount = 0 WHERE id = 41");
    const benign = await hold("UPDATE payments SET amount = amount + 1 WHERE id = 40");
    const decoy = await hold("UPDATE payments SET amount = amount + 1 WHERE id = 42");
    const page = await reviewPage();
    try {
      await page.locator(`.card[data-id="${evil.id}"]`).waitFor();
      const aim = await approveButton(page, benign.id);
      await decoy.c.end();
      await page.waitForFunction((id) => {
        const c = document.querySelector(`.card[data-id="${id}"]`);
        return !c || c.classList.contains("ended");
      }, decoy.id);
      await page.mouse.click(aim.x, aim.y);
      await until(() => regate.app.approvals!.get(benign.id)!.status !== "pending" || regate.app.approvals!.get(evil.id)!.status !== "pending" || undefined);
      expect(regate.app.approvals!.get(evil.id)!.status).toBe("pending");
      expect(((await benign.result) as pg.QueryResult).rowCount).toBe(1);
      expect([await amount(40), await amount(41)]).toEqual([before[0]! + 1, before[1]]);
    } finally {
      await page.close();
      await refuse(evil.id);
      await evil.result;
      await evil.c.end();
      await benign.c.end();
    }
  });

});

describe("the admin listener", () => {
  it("a malformed escape in an admin path is answered 400 and regate goes on (it used to end the process)", async () => {
    expect(await api(regate, "/approvals/%E0%A4%A")).toMatchObject({ status: 400, body: { error: expect.stringMatching(/percent-encoding/) } });
    expect((await admin(regate, "POST", "/sessions/%E0%A4%A/kill", { reason: "x" })).status).toBe(400);
    expect((await admin(regate, "DELETE", "/locks/%E0%A4%A")).status).toBe(400);
    expect((await api(regate, "/approvals")).status).toBe(200);
  });

  it("the page forbids framing, re-pointing its base or posting its form elsewhere, sniffing and referrers", async () => {
    const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const d of ["frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'", "default-src 'none'"]) expect(csp).toContain(d);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

function interaction(button: { action_id: string; value: string }): string {
  return `payload=${encodeURIComponent(JSON.stringify({ type: "block_actions", user: { id: SLACK_USER }, actions: [{ ...button, type: "button" }] }))}`;
}

async function click(body: string): Promise<{ status: number; body: any }> {
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await fetch(`http://127.0.0.1:${regate.app.ports.admin}/approvals/slack/interactions`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts, "x-slack-signature": `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${ts}:${body}`).digest("hex")}` },
    body,
  });
  return { status: res.status, body: await res.json() };
}

const messageOf = (id: string) => until(() => posted.find((m) => JSON.stringify(m).includes(id)));
const buttonsOf = (m: any): any[] => (m.blocks as any[]).find((b) => b.type === "actions").elements;
/** Every text object of the message with its type: what Slack formats (mrkdwn) and what it shows as is (plain_text). */
const texts = (m: any): { type: string; text: string }[] => {
  const out: { type: string; text: string }[] = [];
  JSON.stringify(m, (_k, v: any) => (v && typeof v === "object" && typeof v.text === "string" && typeof v.type === "string" && out.push(v), v));
  return out;
};

describe("the recordings page", () => {
  it("a responder reads the carriage return and zero-width characters as marks in a session's timeline, not as a space or nothing", async () => {
    const app = `deceiver-${Date.now()}`;
    const c = new pg.Client({ connectionString: regate.url(), application_name: app });
    await c.connect();
    const r = await c.query("SELECT 'a' AS a -- only a\r, 'b\u200b' AS b");
    expect(r.fields.map((f) => f.name)).toEqual(["a", "b"]);
    await c.end();
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/recordings/ui`);
      await page.fill("#token", RESPONDER.token);
      await page.click("#login button");
      const row = page.locator("tr.session", { hasText: app });
      await row.waitFor();
      await row.click();
      const line = page.locator("#records td", { hasText: "only a" });
      await line.waitFor();
      expect(await line.textContent()).toContain("SELECT 'a' AS a -- only a⟨U+000D⟩ , 'b⟨U+200B⟩' AS b");
    } finally {
      await page.close();
    }
  });
});

describe("Slack shows what the Approve button approves", () => {
  it("a statement with parameters: no Approve button, the message says the values are not shown; a signed Approve click naming it is refused and nothing runs", async () => {
    const before = await amount(43);
    const { id, result, c } = await hold("UPDATE payments SET amount = $1 WHERE id = $2", ["0", 43]);
    try {
      const m = await messageOf(id);
      expect(buttonsOf(m).map((b) => b.action_id)).toEqual(["regate_refuse", "regate_open"]);
      expect(texts(m).map((t) => t.text).join("\n")).toContain("the values of 2 parameters ($1…$2) are not sent to Slack");
      const value = JSON.stringify({ id, sha256: regate.app.approvals!.get(id)!.sha256 });
      expect(await click(interaction({ action_id: "regate_approve", value }))).toMatchObject({ status: 409, body: { error: "not_shown_in_slack" } });
      expect(regate.app.approvals!.get(id)!.status).toBe("pending");
      expect(await amount(43)).toBe(before);
    } finally {
      await refuse(id);
      await result;
      await c.end();
    }
  });

  it("a statement longer than Slack shows: cut in words, no Approve button", async () => {
    const sql = `UPDATE payments SET amount = amount + 1 WHERE id = 44 /* ${"x".repeat(3000)} */ OR true`;
    const { id, result, c } = await hold(sql);
    try {
      const m = await messageOf(id);
      expect(buttonsOf(m).map((b) => b.action_id)).toEqual(["regate_refuse", "regate_open"]);
      const all = texts(m).map((t) => t.text).join("\n");
      expect(all).toContain(`the statement is ${sql.length} characters and Slack shows the first 2500`);
      expect(all).toMatch(/⟨cut: \d+ more characters, shown in regate⟩/);
      expect(all).toContain(`Statement: ${sql.length} characters on 1 line: read it to its end before approving.`);
    } finally {
      await refuse(id);
      await result;
      await c.end();
    }
  });

  it("the agent's text is never Slack syntax: no mention, link or bold of its own; invisible characters are marked; a plain statement keeps its Approve button", async () => {
    const sql = "UPDATE payments SET amount = amount + 1 WHERE id = 45 /* <!channel> <http://evil.example/ok|regate: approved by security> ``` *regate: safe to approve* \u202e */";
    const { id, result, c } = await hold(sql);
    try {
      const m = await messageOf(id);
      expect(buttonsOf(m).map((b) => b.action_id)).toEqual(["regate_approve", "regate_refuse", "regate_open"]);
      for (const t of texts(m)) {
        if (t.type === "mrkdwn") expect(t.text).not.toMatch(/channel|evil|safe to approve/);
        expect(t.text).not.toMatch(RAW_HIDDEN);
      }
      const statement = texts(m).find((t) => t.text.includes("id = 45"))!;
      expect(statement).toMatchObject({ type: "plain_text", emoji: false });
      expect(statement.text).toContain("⟨U+202E⟩");
      expect(m.text).not.toMatch(/<|>/);
    } finally {
      await refuse(id);
      await result;
      await c.end();
    }
  });

  it("an HTTP request: its body is never sent to Slack, so no Approve button", () => {
    const shown = reviewView(decision(), "POST /refunds/9", ['{"amount": 10}']);
    const m = slackApprovalMessage(approval({ kind: "http", statement: { message: "http", ...shown } }), "http://review/ui");
    expect(buttonsOf(m).map((b) => b.action_id)).toEqual(["regate_refuse", "regate_open"]);
    expect(JSON.stringify(m)).toContain("the request body is not sent to Slack");
  });
});

describe("the plain chat webhook", () => {
  it("escapes Slack syntax, keeps the statement in its code block, and says in words what it does not show", async () => {
    const got: any[] = [];
    const server = createServer((req, res) => {
      let b = "";
      req.on("data", (c) => (b += c));
      req.on("end", () => (got.push(JSON.parse(b)), res.end("ok")));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://review/ui", onRequested: slackNotifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, "http://review/ui", log) });
      const sql = `UPDATE payments SET amount = $1 WHERE id = 1 /* \`\`\`\n<!channel> <http://evil.example|Approve here> */ ${"-".repeat(2100)} OR true`;
      const shown = reviewView(decision(), sql, [{ value: "0", format: "text", type_oid: 0 }]);
      const ac = new AbortController();
      const held = svc.request({ kind: "postgres", session_id: "s", principal: "agent", target: "db", statement: { message: "query", ...shown }, sha256: "x".repeat(64), current: () => "x".repeat(64), in_transaction: false }, decision(), { signal: ac.signal });
      const text: string = (await until(() => got[0])).text;
      expect(text).not.toMatch(/<!channel>|<http/);
      expect(text).toContain("&lt;!channel&gt;");
      // One code block: the statement's own fence cannot close it.
      expect(text.match(/```/g)).toHaveLength(2);
      expect(text).toMatch(/⟨cut: \d+ more characters, shown in regate⟩/);
      expect(text).toContain("The values of 1 parameter is not sent to chat: read them in regate before approving.");
      ac.abort();
      await held;
    } finally {
      server.close();
    }
  });

  it("an HTTP body regate shows only in part is said to be cut, in the value and in a note", () => {
    const shown = reviewView(decision(), "POST /refunds", [{ kind: "http_body", text: "{".repeat(10), bytes: 99999, truncated: true }]);
    expect(shown.parameters).toEqual(["{{{{{{{{{{⟨cut: the body is 99999 bytes⟩"]);
    expect(shown.notes).toEqual(["Body is cut: it is 99999 bytes and only its start is shown; approving approves all of it."]);
    expect(chatText(approval({ kind: "http", statement: { message: "http", ...shown } }), "http://r")).toContain("Body is cut");
  });
});

describe("the policy's reason", () => {
  it("is shown as statements are: a table name the agent chose cannot reorder it", async () => {
    const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const svc = new ApprovalService({ log, timeoutSeconds: 60, idleMarginSeconds: 1, idleInTransactionMs: async () => 0, reviewUrl: "http://review/ui" });
    const d = { ...decision(), approve: { reason: "writes to public.\u202estnemyap need approval", approvers: "", timeout_seconds: 60, mode: "defer" as const } };
    await svc.request({ kind: "postgres", session_id: "s", principal: "agent", target: "db", statement: { message: "query", sql: "x" }, sha256: "y".repeat(64), current: () => "y".repeat(64), in_transaction: false }, d, { signal: new AbortController().signal });
    expect(svc.list()[0]!.reason).toBe("writes to public.⟨U+202E⟩stnemyap need approval");
    await svc.close();
  });
});

function decision(): Decision {
  return { decision_id: "d", outcome: "approve", reasons: ["r"], mask: [], dry_run: false, revision: "r", approve: { reason: "refunds need approval", approvers: "", timeout_seconds: 60 } } as Decision;
}

function approval(over: Partial<Approval>): Approval {
  return {
    id: "apr_0123456789abcdef",
    status: "pending",
    kind: "postgres",
    mode: "hold",
    decision_id: "d",
    reason: "r",
    approvers: "",
    groups: [],
    min: 1,
    reason_required: false,
    votes: [],
    principal: "agent",
    target: "api",
    session_id: "s",
    statement: { message: "query", sql: "" },
    sha256: "0".repeat(64),
    in_transaction: false,
    requested_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 60_000).toISOString(),
    ...over,
  };
}
