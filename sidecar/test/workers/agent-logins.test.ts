import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RELIABILITY_AGENT, type RegateChild } from "../reliability/support/regate-child.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startWorkers } from "./support.js";

// Failed agent logins with workers: 2: each worker allows its share of the limit (identity/login-throttle.ts,
// agent-auth.ts), so guesses spread over both workers still stop at the configured limit, not twice it.

let db: TestPostgres;
let regate: RegateChild;

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  regate = await startWorkers(db, "agent-logins", { agents: { failed_logins: { per_source: 4, overall: 100, window_seconds: 60 } } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

async function attempt(token: string): Promise<string> {
  const c = new pg.Client({ connectionString: regate.url(RELIABILITY_AGENT.user, token) });
  c.on("error", () => {});
  try {
    await c.connect();
    return "ok";
  } catch (err) {
    return (err as pg.DatabaseError).code ?? "?";
  } finally {
    await c.end().catch(() => {});
  }
}

describe("failed agent logins, workers: 2", () => {
  it("twelve wrong SCRAM proofs spread over both workers: at most the configured 4 are checked, the rest are refused 53300", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) codes.push(await attempt(`wrong-guess-${i}-dddddddddddd`));
    expect(codes.filter((c) => c === "28P01").length).toBeLessThanOrEqual(4);
    expect(codes.slice(-4)).toEqual(["53300", "53300", "53300", "53300"]);
    expect(new Set(codes)).toEqual(new Set(["28P01", "53300"]));
  }, 60_000);
});
