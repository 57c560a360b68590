import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalsCommand } from "../../src/cli/approvals.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";

let db: TestPostgres;
let regate: TestRegate;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

function cli(args: string[], token = REVIEWER.token): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const base = ["--url", `http://127.0.0.1:${regate.app.ports.admin}`];
  return approvalsCommand([...args, ...base], { REGATE_REVIEWER_TOKEN: token }, { out: (s) => (out += s), err: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

describe("regate approvals (CLI)", () => {
  it("lists the held statement, approves it (it runs once), refuses another (42501)", async () => {
    const before = await amount(21);
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 2 WHERE id = $1", [21]);
      const id = await until(() => heldId(notices));
      const list = await cli(["list"]);
      expect(list.code).toBe(0);
      expect(list.out).toContain(`${id}  pending`);
      const shown = await cli(["show", id]);
      expect(shown.out).toContain("writes to public.payments need approval");
      expect(shown.out).toContain("UPDATE payments SET amount = amount + 2 WHERE id = $1");
      expect((await cli(["approve", id], "wrong-token")).code).toBe(1);
      const ok = await cli(["approve", id, "--comment", "ticket 42"]);
      // What is approved is printed before it is approved (cli/approvals.ts), then the outcome.
      expect(ok).toMatchObject({ code: 0, err: "" });
      expect(ok.out).toContain(`  statement   UPDATE payments SET amount = amount + 2 WHERE id = $1\n`);
      expect(ok.out.endsWith(`${id} approved by alice\n`)).toBe(true);
      expect((await held).rowCount).toBe(1);
      expect(await amount(21)).toBe(before + 2);
      expect((await cli(["approve", id])).code).toBe(2);

      const second = c.query("UPDATE payments SET amount = 0 WHERE id = $1", [21]).catch((e: pg.DatabaseError) => e);
      const id2 = await until(() => heldId(notices.slice(1)));
      expect((await cli(["refuse", id2])).code).toBe(2);
      expect((await cli(["refuse", id2, "--comment", "no"])).out).toBe(`${id2} refused by alice\n`);
      expect(((await second) as pg.DatabaseError).code).toBe("42501");
      expect(await amount(21)).toBe(before + 2);
    } finally {
      await c.end();
    }
  });

  it("wait: returns once a reviewer answers (0 approved, 2 otherwise or still pending at --timeout); deny is refuse", async () => {
    const { c, notices } = await client(regate);
    try {
      const held = c.query("UPDATE payments SET amount = amount + 1 WHERE id = $1", [22]);
      const id = await until(() => heldId(notices));
      expect(await cli(["wait", id, "--timeout", "0.3"])).toMatchObject({ code: 2, out: `${id} pending\n` });
      const waiting = cli(["wait", id, "--timeout", "20"]);
      await new Promise((r) => setTimeout(r, 300));
      expect((await cli(["approve", id])).code).toBe(0);
      expect(await waiting).toEqual({ code: 0, out: `${id} approved by alice\n`, err: "" });
      expect((await held).rowCount).toBe(1);

      const second = c.query("UPDATE payments SET amount = 0 WHERE id = $1", [22]).catch((e: pg.DatabaseError) => e);
      const id2 = await until(() => heldId(notices.slice(1)));
      const waiting2 = cli(["wait", id2]);
      expect((await cli(["deny", id2, "--comment", "not now"])).out).toBe(`${id2} refused by alice\n`);
      expect(await waiting2).toEqual({ code: 2, out: `${id2} refused by alice: not now\n`, err: "" });
      expect(((await second) as pg.DatabaseError).code).toBe("42501");
    } finally {
      await c.end();
    }
  });
});

describe("the review page in a real browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("shows the held statement; Approve runs it once; Refuse needs a comment and fails the statement with it", async () => {
    const before = await amount(22);
    const { c, notices } = await client(regate);
    const page = await browser.newPage();
    try {
      const held = c.query("UPDATE payments SET amount = amount + 3 WHERE id = $1", [22]);
      const id = await until(() => heldId(notices));
      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
      await page.fill("#token", REVIEWER.token);
      await page.click("#login button");
      const card = page.locator(`.card[data-id="${id}"]`);
      await card.waitFor();
      expect(await card.locator("pre.sql").textContent()).toBe("UPDATE payments SET amount = amount + 3 WHERE id = $1");
      expect(await card.textContent()).toContain("writes to public.payments need approval");
      expect(await card.textContent()).toContain("asked by test-agent on test-db");
      expect(await card.locator("p.votes").textContent()).toBe("postgres, hold mode; approvals 0 of 1");
      // Nothing ran while the page shows it.
      expect(await amount(22)).toBe(before);
      await card.locator("button.approve").click();
      expect((await held).rowCount).toBe(1);
      expect(await amount(22)).toBe(before + 3);
      await page.locator("#status").filter({ hasText: `${id} approved` }).waitFor();
      await page.locator("#history td", { hasText: id }).first().waitFor();

      const second = c.query("UPDATE payments SET amount = 0 WHERE id = $1", [22]).catch((e: pg.DatabaseError) => e);
      const id2 = await until(() => heldId(notices.slice(1)));
      await page.reload();
      const card2 = page.locator(`.card[data-id="${id2}"]`);
      await card2.waitFor();
      await card2.locator("button.refuse").click();
      await page.locator("#status").filter({ hasText: "refuse failed: reason_required" }).waitFor();
      await card2.locator("input.comment").fill("use the batch job");
      await card2.locator("button.refuse").click();
      const err = (await second) as pg.DatabaseError;
      expect(err.code).toBe("42501");
      expect(err.message).toContain("refused by alice: use the batch job");
      expect(await amount(22)).toBe(before + 3);
      expect((await api(regate, `/approvals/${id2}`)).body).toMatchObject({ status: "refused", comment: "use the batch job" });
    } finally {
      await page.close();
      await c.end();
    }
  });

  it("without a valid token the page shows nothing pending and cannot act", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${regate.app.ports.admin}/approvals/ui`);
      await page.fill("#token", "not-a-reviewer");
      await page.click("#login button");
      await page.locator("#status").filter({ hasText: "cannot list approvals" }).waitFor();
      expect(await page.locator(".card").count()).toBe(0);
    } finally {
      await page.close();
    }
  });
});
