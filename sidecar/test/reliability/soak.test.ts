// The write soak, short version (make soak runs it for 10 minutes): pgbench TPC-B-like writes through regate,
// then the database must reconcile exactly with what pgbench saw committed, and regate's RSS stay flat. A few
// seconds already make thousands of concurrent transactions to reconcile; a leak needs the long run to show.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { reconcile, rssGrowth } from "./soak-check.js";
import { runSoak } from "./soak-run.js";

const SECONDS = Number(process.env["SOAK_TEST_SECONDS"] ?? 8);
let db: TestPostgres;

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
});

afterAll(async () => {
  await db?.stop();
});

describe("write soak (short)", () => {
  it(`${SECONDS} s of pgbench writes through regate reconcile exactly; RSS flat`, async () => {
    const r = await runSoak(db, { seconds: SECONDS, clients: 8, mode: "prepared", branches: 4 });
    process.stdout.write(
      `soak: ${r.transactions} tx (${r.tps} tps), history ${r.history_rows}, sums ${JSON.stringify(r.sums)}, ` +
        `RSS MB start ${r.rss_mb.start} / warm ${r.rss_mb.after_warmup} / end ${r.rss_mb.end} / max ${r.rss_mb.max}, decisions ${r.decisions_logged}\n`,
    );
    expect(reconcile(r)).toEqual([]);
    // At least one decision per statement pgbench ran: the writes went through the policy, not around it.
    expect(r.decisions_logged).toBeGreaterThanOrEqual(r.transactions * 5);
    expect(r.sums.history).not.toBe(0); // deltas are random in ±5000: a sum of 0 means nothing landed
    expect(rssGrowth(r)).toBeLessThan(64);
  }, (SECONDS + 150) * 1000);
});
