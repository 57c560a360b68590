// Operator surfaces against a rogue agent in the reviewer's pod.
// - It reaches the admin listener's loopback port and guesses a reviewer's token: each guess is answered at
//   once (about 9,000 a second here), so a four-digit token fell in under a second and the agent approved its
//   own held UPDATE (the row changed). regate now refuses to start with a reviewer's or responder's token
//   under 16 characters.
// - It types a credential regate holds (its own token, another agent's) into a statement that needs
//   approval: the page, the API, the approvals store and the chat webhook showed it, where recordings and
//   decision logs replace it. Now the approval shows it replaced, and says so; what runs is unchanged.
// - It turns on transform_null_equals, then asks approval for a write whose WHERE reads `c.phone = NULL`
//   (never true: no row, for anyone who reads SQL): approved, it refunded 130 payments. The example policy
//   now refuses changing that switch and array_nulls, as it refuses standard_conforming_strings.
// - It picks an application_name with zero-width or bidi characters: the recordings page listed it as drawn
//   (two sessions read alike, or a name reversed), where the timeline and the CLI mark it. Now marked too.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, type TestRegate } from "../support/regate.js";
import { OTHER, RESPONDER } from "../incident/support.js";
import { api, approvalBundle, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const BUNDLE = () => approvalBundle({ reason: "payments writes need approval", approvers: "dba-oncall", timeout_seconds: 120, hold_max_seconds: 60 }, "operator-redteam");

let db: TestPostgres;
let regate: TestRegate;
let browser: Browser;
let chat: Server;
const posted: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  db = await startPostgres();
  chat = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => (posted.push(body), res.end("ok")));
  });
  await new Promise<void>((r) => chat.listen(0, "127.0.0.1", r));
  const webhook = { url: { value: `http://127.0.0.1:${(chat.address() as AddressInfo).port}/hook` } };
  regate = await startApprovingRegate(db, { webhook }, BUNDLE(), {
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }, { subject: OTHER.user, groups: ["agents"], token: { value: OTHER.token } }] },
    incident: { responders: [{ name: RESPONDER.name, token: { value: RESPONDER.token } }] },
    recording: { enabled: true, dir: mkdtempSync(join(tmpdir(), "regate-operator-redteam-")) },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await regate?.stop();
  await db?.stop();
  chat?.close();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

function configWith(section: string): string {
  return `${section}\nagents: {tokens: [{subject: test-agent, token: {value: agent-token-7f3a9c}}]}\n`;
}

describe("a reviewer's or responder's token an agent could guess", () => {
  it("regate refuses to start with a four-digit reviewer token, says where and what to do, and never prints the token", async () => {
    const started = startApprovingRegate(db, { reviewers: [{ name: "alice", token: { value: "7305" }, groups: ["dba-oncall"] }] }, BUNDLE());
    const err = await started.then(
      async (r) => (await r.stop(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toContain(
      "approvals.reviewers[0].token: shorter than 16 characters, guessable by anything that reaches the admin listener; give alice a random one (openssl rand -base64 24)",
    );
    expect((err as Error).message).not.toContain("7305");
  });

  it.each([
    ["a responder's, from the environment", "incident: {responders: [{name: rita, token: {env: RITA}}]}", { RITA: "hunter2-hunter2" }, "incident.responders[0].token"],
    ["the second reviewer's", "approvals: {enabled: true, reviewers: [{name: alice, token: {value: reviewer-token-3c9e1b}}, {name: bob, token: {value: bob-pin-0000}}]}", {}, "approvals.reviewers[1].token"],
  ])("%s is refused as well", (_name, section, env, where) => {
    let problems: string[] = [];
    try {
      loadConfig({ text: configWith(section), env });
    } catch (e) {
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${where.replace(/[[\].]/g, "\\$&")}: shorter than 16 characters`))]);
  });

  it("must still load: tokens of 16 characters and more", () => {
    const cfg = loadConfig({
      text: configWith("approvals: {enabled: true, reviewers: [{name: alice, token: {value: 0123456789abcdef}}]}\nincident: {responders: [{name: rita, token: {value: Zm9vYmFyYmF6cXV4cXV1eDEy}}]}"),
      env: {},
    });
    expect(cfg.approvals.reviewers[0]!.token.reveal()).toBe("0123456789abcdef");
  });
});

describe("the agent guessing on the admin port", () => {
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 32 });
  const guess = (path: string, token: string, body: string): Promise<number> =>
    new Promise((resolve) => {
      const req = request({ agent: keepAlive, host: "127.0.0.1", port: regate.app.ports.admin, method: "POST", path, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", () => resolve(-1));
      req.end(body);
    });
  afterAll(() => keepAlive.destroy());

  it("finds nothing against a token of 16 characters and more; the reviewer then approves on the page in chromium and the statement runs once", async () => {
    const before = await amount(41);
    const { c, notices } = await client(regate);
    const page = await browser.newPage();
    try {
      const held = c.query("UPDATE payments SET amount = amount + 5 WHERE id = $1", [41]);
      const id = await until(() => heldId(notices));
      // The agent has all it needs but a reviewer's token: the id and digest are in its own notice.
      const sha256 = /sha256 ([0-9a-f]{64})/.exec(notices.map((n) => n.detail ?? "").join(" "))![1]!;
      const body = JSON.stringify({ sha256 });
      const answers = new Map<number, number>();
      for (let base = 0; base < 10_000; base += 250) {
        const batch = await Promise.all(Array.from({ length: 250 }, (_, i) => guess(`/approvals/${id}/approve`, String(base + i).padStart(4, "0"), body)));
        for (const s of batch) answers.set(s, (answers.get(s) ?? 0) + 1);
      }
      expect(answers).toEqual(new Map([[401, 10_000]]));
      expect(await amount(41)).toBe(before);

      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
      await page.fill("#token", REVIEWER.token);
      await page.click("#login button");
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      expect(await card.locator("pre.sql").textContent()).toBe("UPDATE payments SET amount = amount + 5 WHERE id = $1");
      await card.locator("button.approve:not([disabled])").click();
      expect((await held).rowCount).toBe(1);
      expect(await amount(41)).toBe(before + 5);
      await page.locator("#status").filter({ hasText: `${id} approved` }).waitFor();
    } finally {
      await page.close();
      await c.end();
    }
  }, 60_000);
});

describe("a credential regate holds, typed into a statement that needs approval", () => {
  it("is shown replaced on the page (chromium), the API and the chat webhook, and the reviewer is told; approved, the statement runs as typed", async () => {
    const { c, notices } = await client(regate);
    const page = await browser.newPage();
    try {
      const sql = `UPDATE payments SET card_number = '${AGENT.token}' WHERE id = $1 AND card_number <> $2`;
      const held = c.query(sql, [43, OTHER.token]);
      const id = await until(() => heldId(notices));
      const shown = (await api(regate, `/approvals/${id}`)).body;
      expect(shown.statement.sql).toBe("UPDATE payments SET card_number = '****' WHERE id = $1 AND card_number <> $2");
      expect(shown.statement.parameters.map((p: { value: string }) => p.value)).toEqual(["43", "****"]);
      expect(shown.statement.notes[0]).toBe(
        "A credential regate holds (an agent's token, a password or key of its own) is in this statement 2 times, shown as ****; approving approves the statement with the credential itself in it.",
      );
      const note = await until(() => posted.find((b) => b.includes(id)));
      expect(note).toContain("'****'");
      for (const secret of [AGENT.token, OTHER.token]) {
        expect(JSON.stringify(shown)).not.toContain(secret);
        expect(note).not.toContain(secret);
      }

      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
      await page.fill("#token", REVIEWER.token);
      await page.click("#login button");
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      expect(await card.locator("pre.sql").textContent()).toBe("UPDATE payments SET card_number = '****' WHERE id = $1 AND card_number <> $2");
      expect(await card.locator("ul.notes li").first().textContent()).toMatch(/^A credential regate holds/);
      expect(await card.textContent()).not.toContain(AGENT.token);
      await card.locator("button.approve:not([disabled])").click();
      expect((await held).rowCount).toBe(1);
      // What ran is what the agent sent: the digest the reviewer approved covers the real text.
      expect((await db.query("SELECT card_number FROM payments WHERE id = 43"))[0].card_number).toBe(AGENT.token);
    } finally {
      await page.close();
      await c.end();
    }
  }, 60_000);

  it("must stay as it was: a statement without one is shown as typed, with no note", async () => {
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [44]).catch((e: Error) => e);
      const id = await until(() => heldId(notices));
      const shown = (await api(regate, `/approvals/${id}`)).body;
      expect(shown.statement.sql).toBe("UPDATE payments SET amount = amount + 1 WHERE id = $1");
      expect(shown.statement.notes).toBeUndefined();
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "not now" })).status).toBe(200);
      await held;
    } finally {
      await c.end();
    }
  });
});

describe("the recordings page lists what an agent chose, marked", () => {
  it("a zero-width space and a bidi override in application_name are marks in the session list (chromium); a plain name is as it was", async () => {
    const stamp = Date.now();
    const names = [`nightly-report-${stamp}\u200b\u202etroper`, `nightly-report-${stamp}`];
    for (const application_name of names) {
      const c = new pg.Client({ connectionString: regate.url(), application_name });
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
    }
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/recordings/ui`);
      await page.fill("#token", RESPONDER.token);
      await page.click("#login button");
      const rows = page.locator("tr.session", { hasText: `nightly-report-${stamp}` });
      await until(async () => (await rows.count()) === 2);
      const cells = (await rows.evaluateAll((trs) => trs.map((tr) => tr.children[5]!.textContent))).sort();
      expect(cells).toEqual([`nightly-report-${stamp}`, `nightly-report-${stamp}⟨U+200B⟩⟨U+202E⟩troper`]);
    } finally {
      await page.close();
    }
  });
});

describe("a setting that makes the server read a statement otherwise than its reviewer", () => {
  let example: TestRegate;
  beforeAll(async () => {
    example = await startApprovingRegate(db);
  }, 120_000);
  afterAll(async () => {
    await example?.stop();
  });

  it("transform_null_equals and array_nulls cannot be changed (SET or set_config), and the approved `= NULL` write touches no row", async () => {
    const { c, notices } = await client(example);
    try {
      for (const sql of ["SET transform_null_equals = on", "SELECT set_config('transform_null_equals', 'on', false)", "SET SESSION array_nulls TO off", "SET LOCAL transform_null_equals = on"]) {
        const err = (await c.query(sql).catch((e: pg.DatabaseError) => e)) as pg.DatabaseError;
        expect(err.code).toBe("42501");
        expect(err.message).toMatch(/changing (transform_null_equals|array_nulls) is not allowed/);
      }
      expect((await c.query("SHOW transform_null_equals")).rows).toEqual([{ transform_null_equals: "off" }]);
      const before = (await db.query("SELECT count(*)::int AS n FROM payments WHERE status = 'refunded'"))[0].n;
      const held = c.query("UPDATE payments SET status = 'refunded' WHERE status = 'captured' AND order_id IN (SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.phone = NULL)");
      const id = await until(() => heldId(notices));
      const a = (await api(example, `/approvals/${id}`)).body;
      expect((await api(example, `/approvals/${id}/approve`, { sha256: a.sha256 })).status).toBe(200);
      expect((await held).rowCount).toBe(0);
      expect((await db.query("SELECT count(*)::int AS n FROM payments WHERE status = 'refunded'"))[0].n).toBe(before);
    } finally {
      await c.end();
    }
  });

  it("must stay allowed: the settings drivers and frameworks make (time zone, date and interval styles), RESET ALL", async () => {
    const { c } = await client(example);
    try {
      for (const sql of ["SET TIME ZONE 'UTC'", "SET SESSION timezone TO 'UTC'", "SET DateStyle = 'ISO, MDY'", "SET intervalstyle = iso_8601", "SET application_name = 'report'", "RESET ALL"]) {
        await expect(c.query(sql)).resolves.toBeDefined();
      }
    } finally {
      await c.end();
    }
  });
});
