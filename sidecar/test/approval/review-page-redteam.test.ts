// Red-team cases against the reviewer's browser, left open by review, reviewer-deception(-2) and
// operator-redteam: real PostgreSQL, the pg driver, regate with its admin listener, and the review page in
// Debian's chromium.
// - Right-to-left letters (Hebrew, Arabic) are not controls, so `visible` leaves them as they are, but a
//   browser lays text out by the Unicode bidi algorithm: the numbers and punctuation between two such letters
//   are drawn in reverse order. `('{א, 5, 900000, ב}'::text[])[3]` was drawn `{ב, 900000, 5, א}`: a reviewer
//   reading left to right took element 3 for 5, and approving set the amount to 900000. The note said only
//   that non-ASCII letters may look like ASCII ones. Now everything an agent wrote is drawn in the order it
//   runs (bidi override), the note says the letters are right-to-left, and Slack, whose drawing regate
//   cannot change, offers no Approve button for such a statement. The recordings page draws a timeline
//   the same way.
// - The search_path note joined the schema names the agent chose as they were: one schema named
//   `internal, public` read as two, and a name holding U+202E reversed the rest of the note. Now each is
//   quoted as PostgreSQL quotes an identifier and marked like any other text an agent wrote.
// - Guards that pass as they stand (checked here so that they stay so): markup in a statement is drawn as
//   text and runs no script; the page forbids framing, caching, referrers and
//   every source but itself; a page on another origin cannot approve (no cookie; the API needs a bearer
//   header and JSON, and answers no CORS preflight), and cannot frame the page.
import { existsSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackApprovalMessage } from "../../src/admin/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, client, heldId, REVIEWER, startApprovingRegate, until } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";

let db: TestPostgres;
let regate: TestRegate;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, undefined, { recording: { enabled: true, dir: mkdtempSync(join(tmpdir(), "regate-review-page-redteam-")) } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await regate?.stop();
  await db?.stop();
});

const admin = () => `http://127.0.0.1:${regate.app.ports.admin}`;
const amount = async (id: number) => Number((await db.query("SELECT amount FROM payments WHERE id = $1", [id]))[0].amount);

async function reviewPage(id: string): Promise<{ page: Page; card: ReturnType<Page["locator"]> }> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${admin()}/approvals/ui`);
  await page.fill("#token", REVIEWER.token);
  await page.click("#login button");
  const card = page.locator(`.card[data-id="${id}"]`);
  await card.waitFor();
  return { page, card };
}

/** Where on screen (left edge, px) each of `needles` is drawn inside the first `selector` element's text. */
function drawnAt(page: Page, selector: string, needles: string[]): Promise<number[]> {
  return page.evaluate(
    ([sel, ns]) => {
      const node = document.querySelector(sel)!.firstChild as Text;
      return ns.map((n) => {
        const at = node.data.indexOf(n);
        if (at < 0) throw new Error(`${n} not in ${node.data}`);
        const r = document.createRange();
        r.setStart(node, at);
        r.setEnd(node, at + n.length);
        return r.getBoundingClientRect().left;
      });
    },
    [selector, needles] as const,
  );
}

describe("right-to-left letters in what an agent wrote", () => {
  it("the statement is drawn in the order PostgreSQL reads it; approved, element 3 is the one drawn third", async () => {
    const before = await amount(31);
    const sql = "UPDATE payments SET amount = ('{א, 5, 900000, ב}'::text[])[3]::numeric WHERE id = 31";
    const { c, notices } = await client(regate);
    try {
      const held = c.query(sql).catch((e: Error) => e);
      const id = await until(() => heldId(notices));
      // Slack draws by the bidi algorithm and regate cannot stop it there: no Approve button in Slack.
      const buttons = (slackApprovalMessage((await api(regate, `/approvals/${id}`)).body, "http://review").blocks.at(-1) as { elements: { action_id: string }[] }).elements;
      expect(buttons.map((b) => b.action_id)).toEqual(["regate_refuse", "regate_open"]);
      const { page, card } = await reviewPage(id);
      try {
        expect(await card.locator("pre.sql").textContent()).toBe(sql);
        // Logical order 5 then 900000: a reader going left to right must meet them in that order.
        const [five, big] = await drawnAt(page, `.card[data-id="${id}"] pre.sql`, [" 5,", "900000"]);
        expect(five).toBeLessThan(big!);
        expect(await card.locator("ul.notes").textContent()).toContain("Right-to-left letters (א ב)");
        await page.waitForTimeout(1600); // the card's buttons wait before they arm
        await card.locator("button.approve").click();
        expect(((await held) as { rowCount: number }).rowCount).toBe(1);
        expect(await amount(31)).toBe(900000);
        expect(before).not.toBe(900000);
      } finally {
        await page.context().close();
      }
    } finally {
      await c.end();
    }
  });
});

describe("right-to-left letters on the recordings page", () => {
  it("a recorded statement is drawn in the order it was sent", async () => {
    const application_name = `rtl-${Date.now()}`;
    const c = new pg.Client({ connectionString: regate.url(), application_name });
    await c.connect();
    await c.query("SELECT ('{א, 5, 900000, ב}'::text[])[3] AS v");
    await c.end();
    const page = await (await browser.newContext()).newPage();
    try {
      await page.goto(`${admin()}/recordings/ui`);
      await page.fill("#token", REVIEWER.token);
      await page.click("#login button");
      const row = page.locator("tr.session", { hasText: application_name });
      await row.waitFor();
      await row.click();
      const cell = page.locator("#records td.text", { hasText: "900000" });
      await cell.first().waitFor();
      await cell.first().evaluate((e) => (e.id = "rtl-line"));
      const [five, big] = await drawnAt(page, "#rtl-line", [" 5,", "900000"]);
      expect(five).toBeLessThan(big!);
    } finally {
      await page.context().close();
    }
  });
});

describe("the search_path note", () => {
  it("names each schema as PostgreSQL would write it, marked: one schema named `internal, public` is not two", async () => {
    const { c, notices } = await client(regate);
    try {
      await c.query(`SET search_path = "internal, public", "x\u202ey", public`);
      const held = c.query("UPDATE payments SET amount = amount WHERE id = 35").catch((e: Error) => e);
      const id = await until(() => heldId(notices));
      const notes: string[] = (await api(regate, `/approvals/${id}`)).body.statement.notes;
      const note = notes.find((n) => n.includes("search_path the agent's connection chose"));
      expect(note).toContain(`chose: "internal, public", "x⟨U+202E⟩y", public (`);
      expect(note).not.toContain("\u202e");
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "no" })).status).toBe(200);
      await held;
    } finally {
      await c.end();
    }
  });
});

describe("guards that hold as they stand", () => {
  it("markup in a statement is drawn as text and runs nothing", async () => {
    const payload = `</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><svg onload="window.__pwned=3"></svg><a href="javascript:window.__pwned=4">x</a>&lt;b&gt;`;
    const sql = `UPDATE payments SET amount = amount WHERE id = 33 /* ${payload} */`;
    const { c, notices } = await client(regate);
    try {
      const held = c.query(sql).catch((e: Error) => e);
      const id = await until(() => heldId(notices));
      const { page, card } = await reviewPage(id);
      try {
        expect(await card.locator("pre.sql").textContent()).toBe(sql);
        expect(await card.locator("script, img, svg, a").count()).toBe(0);
        expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      } finally {
        await page.context().close();
      }
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "no" })).status).toBe(200);
      await held;
    } finally {
      await c.end();
    }
  });

  it("headers: strict CSP, no framing, no caching, no referrer; another origin can neither frame nor approve", async () => {
    const res = await fetch(`${admin()}/approvals/ui`);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");

    const { c, notices } = await client(regate);
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><iframe id="f" src="${admin()}/approvals/ui"></iframe>`);
    });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.2", r));
    const port = (evil.address() as { port: number }).port;
    try {
      const held = c.query("UPDATE payments SET amount = amount WHERE id = 34").catch((e: Error) => e);
      const id = await until(() => heldId(notices));
      const { page } = await reviewPage(id); // the reviewer is signed in, in this browser context
      try {
        const other = await page.context().newPage();
        await other.goto(`http://127.0.0.2:${port}/`);
        // Simple requests (no preflight) and one that asks for a preflight: none gets an approval through.
        const statuses = await other.evaluate(async ([base, aid]) => {
          const out: string[] = [];
          for (const init of [
            { method: "POST", body: "{}", headers: { "content-type": "text/plain" }, mode: "no-cors" as RequestMode, credentials: "include" as RequestCredentials },
            { method: "POST", body: "{}", headers: { "content-type": "application/json" }, credentials: "include" as RequestCredentials },
          ]) {
            try {
              const r = await fetch(`${base}/approvals/${aid}/approve`, init);
              out.push(String(r.status));
            } catch {
              out.push("blocked");
            }
          }
          return out;
        }, [admin(), id] as const);
        expect(statuses).toEqual(["0", "blocked"]);
        const framed = other.frames().find((f) => f.url().includes("/approvals/ui"));
        expect(framed ? await framed.locator("#token").count().catch(() => 0) : 0).toBe(0);
        await other.close();
      } finally {
        await page.context().close();
      }
      expect((await api(regate, `/approvals/${id}`)).body.status).toBe("pending");
      expect((await api(regate, `/approvals/${id}/refuse`, { comment: "no" })).status).toBe(200);
      await held;
    } finally {
      evil.close();
      await c.end();
    }
  });
});
