// Fault: the decision log's stdout is blocked, with decision_log.max_buffered_bytes set. Once that many bytes
// wait, regate fails closed: statements are refused with 53400 DECISION_LOG_BACKPRESSURE (nothing runs
// unlogged) instead of queueing without bound; memory stays bounded; once stdout is read again, statements
// run again, every decision that let a statement run is in the log, and the refusals are counted in one line.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { whenTrue } from "../support/wait.js";
import { startRegateChild, type RegateChild } from "./support/regate-child.js";

const LIMIT = 256 * 1024;
let db: TestPostgres;
let regate: RegateChild;
let c: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegateChild({ name: "stdout-bounded", pg: db, stdout: "unread", overrides: { decision_log: { max_buffered_bytes: LIMIT } } });
  c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
}, 120_000);

afterAll(async () => {
  await c?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("decision log stdout blocked, buffer bounded", () => {
  it("fails closed once the bound is reached, stays within it, and recovers when stdout drains", async () => {
    const rss0 = regate.rssKb()!;
    let allowed = 0;
    let refusal: (Error & { code?: string }) | undefined;
    const t0 = Date.now();
    while (!refusal && Date.now() - t0 < 60_000) {
      // ~1 KiB of SQL text per statement: the bound is reached after a few hundred decisions.
      const r = await c.query(`SELECT id, email FROM public.customers WHERE id = ${allowed % 50} /* ${"x".repeat(1000)} */`).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      if (r) refusal = r;
      else allowed++;
    }
    expect(refusal?.code).toBe("53400");
    expect(refusal?.message).toContain("the decision log cannot be written (its destination is not being read); refused until it is");
    // Still refused while nobody reads; the gate never opens.
    await expect(c.query("SELECT 1")).rejects.toMatchObject({ code: "53400" });
    const rss1 = regate.rssKb()!;
    expect(rss1 - rss0).toBeLessThan(64 * 1024);

    const chunks: Buffer[] = [];
    const out = regate.process.stdout!;
    out.on("data", (b: Buffer) => chunks.push(b));
    out.resume();
    const text = () => Buffer.concat(chunks).toString("utf8");
    const decisions = () => text().split("\n").filter((l) => l.includes('"msg":"Decision Log"') && l.includes('"outcome":"allow"')).length;
    // Waited for, not timed: a loaded machine takes its time to drain what was buffered and log what follows.
    await whenTrue(() => decisions() >= allowed);
    await expect(c.query("SELECT 42 AS n")).resolves.toMatchObject({ rows: [{ n: 42 }] });
    const blocked = /"event":"decision_log_blocked","refused_unlogged":[1-9]/;
    await whenTrue(() => decisions() >= allowed + 1 && blocked.test(text()));
    writeFileSync(join(regate.dir, "stdout.log"), text()); // for the secrets sweep
    expect(decisions()).toBeGreaterThanOrEqual(allowed + 1);
    expect(text()).toMatch(blocked);
    process.stdout.write(`stdout bounded at ${LIMIT / 1024} KiB: ${allowed} statements ran before the first refusal; RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MB\n`);
  }, 120_000);
});
