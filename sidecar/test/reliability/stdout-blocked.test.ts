// Fault: the decision log's stdout is blocked (a pipe nobody reads, as a stuck log shipper leaves it). Measured
// behaviour (docs/reliability.md): regate keeps deciding and serving, and queues the log lines in memory; none
// is lost once the pipe is read again. The gate never opens: every statement is still decided.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegateChild, type RegateChild } from "./support/regate-child.js";

const SECONDS = Number(process.env["REL_STDOUT_SECONDS"] ?? 4);
let db: TestPostgres;
let regate: RegateChild;
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await startPostgres();
  // What queues while nothing reads, not the bound (stdout-bounded.test.ts): on a fast machine 4 s of decisions
  // passed the default 64 MiB and later statements were refused as they should be, failing this test.
  regate = await startRegateChild({ name: "stdout-blocked", pg: db, stdout: "unread", overrides: { decision_log: { max_buffered_bytes: 1024 * 1024 * 1024 } } });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("decision log stdout blocked", () => {
  it("statements are still decided and served; the log lines wait in memory and all arrive once read", async () => {
    for (let i = 0; i < 8; i++) {
      const c = new pg.Client({ connectionString: regate.url() });
      c.on("error", () => undefined);
      await c.connect();
      clients.push(c);
    }
    const rss0 = regate.rssKb()!;
    let allowed = 0;
    let refused = 0;
    let maxMs = 0;
    const t0 = Date.now();
    // The pipe (64 KiB) is full after the first few dozen decisions; everything after is queued.
    while (Date.now() - t0 < SECONDS * 1000) {
      await Promise.all(
        clients.map(async (c, i) => {
          const q0 = performance.now();
          await c.query(`SELECT id, email FROM public.customers WHERE id = ${i + 1}`);
          allowed++;
          if (i === 0) {
            await c.query("SELECT * FROM internal.api_keys").then(
              () => expect.fail("internal.api_keys was answered while stdout was blocked"),
              (e: { code?: string }) => (expect(e.code).toBe("42501"), refused++),
            );
          }
          maxMs = Math.max(maxMs, performance.now() - q0);
        }),
      );
    }
    const rss1 = regate.rssKb()!;
    // Read the pipe again: every decision must come out.
    const chunks: Buffer[] = [];
    const out = regate.process.stdout!;
    out.on("data", (c: Buffer) => chunks.push(c));
    out.resume();
    const decisions = () => Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l.includes('"msg":"Decision Log"')).length;
    for (let i = 0; i < 200 && decisions() < allowed + refused; i++) await new Promise((r) => setTimeout(r, 50));
    const text = Buffer.concat(chunks).toString("utf8");
    writeFileSync(join(regate.dir, "stdout.log"), text); // for the secrets sweep
    const perDecisionKb = Math.round(((rss1 - rss0) / (allowed + refused)) * 100) / 100;
    process.stdout.write(
      `stdout blocked ${SECONDS} s: ${allowed} allowed + ${refused} refused statements, slowest ${Math.round(maxMs)} ms; ` +
        `RSS ${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MB (${perDecisionKb} KiB per decision queued); ${decisions()} decision lines after draining, ${text.length} bytes\n`,
    );
    expect(allowed).toBeGreaterThan(100);
    expect(maxMs).toBeLessThan(5000);
    expect(decisions()).toBeGreaterThanOrEqual(allowed + refused);
    expect(text).not.toMatch(/"level":"(error|fatal)"/);
  }, 90_000);
});
