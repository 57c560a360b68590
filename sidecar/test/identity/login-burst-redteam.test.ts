// Failed-login throttle against a parallel burst: an attacker opens many connections at once, so every one
// passes the throttle at its startup packet before any has failed, then sends a guess on each. Judged by how
// many guesses the listener checked (answered 28P01) and how long the configured agent is then kept out.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
/**
 * 3 failures per 9 s: a failure drains away after 3 s. The 40 handshakes of a burst can take over a second on
 * a loaded machine; with a faster drain (3 per 3 s) a failure could drain while they ran and rightly let a
 * fourth guess be checked.
 */
const LIMIT = 3;
const WINDOW_S = 9;
const DRAIN_MS = (WINDOW_S * 1000) / LIMIT;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db, {
    agents: {
      tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }],
      failed_logins: { per_source: LIMIT, overall: 2 * LIMIT, window_seconds: WINDOW_S },
    },
  });
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function login(user: string, token: string): Promise<string> {
  const c = new pg.Client({ connectionString: regate.url(user, token) });
  c.on("error", () => {});
  try {
    await c.connect();
    return "ok";
  } catch (err) {
    return (err as pg.DatabaseError).code ?? String(err);
  } finally {
    await c.end().catch(() => {});
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** 40 connections at once, each with a wrong token: what each was answered. */
const burst = (user: string) => Promise.all(Array.from({ length: 40 }, (_, i) => login(user, `wrong-token-guess-${i}-xxxxxxx`)));

describe("a parallel burst of guesses", () => {
  it("a configured agent's name: no more SCRAM proofs are checked than its limit, and the agent is kept out about window/limit, as documented", async () => {
    // Before: all 40 passed the throttle at their startup packets; 27 proofs were checked (28P01) and the
    // agent's right token was refused for 25 s.
    const results = await burst(AGENT.user);
    expect(results.filter((r) => r === "28P01")).toHaveLength(LIMIT);
    expect(results.filter((r) => r !== "28P01").every((r) => r === "53300")).toBe(true);
    const t0 = Date.now();
    while ((await login(AGENT.user, AGENT.token)) !== "ok") {
      expect(Date.now() - t0).toBeLessThan(DRAIN_MS + 2000);
      await sleep(100);
    }
  }, 30_000);

  it("any other user name (a token as the password): no more guesses are checked than its limit", async () => {
    await sleep(3100);
    const results = await burst("guesser");
    expect(results.filter((r) => r === "28P01").length).toBeLessThanOrEqual(LIMIT);
    expect(await login(AGENT.user, AGENT.token)).toBe("ok");
  }, 30_000);
});
