// Fault: an agent that hangs up in the middle of a large result. Judged by the database (the upstream
// backend running that query goes away instead of streaming on to nobody) and by another agent's session.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { eventually } from "../support/wait.js";

let db: TestPostgres;
let regate: TestRegate;
let other: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  other = new pg.Client({ connectionString: regate.url() });
  other.on("error", () => undefined);
  await other.connect();
});

afterAll(async () => {
  await other?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

const MARK = "client_drop_mark";
const running = async () =>
  Number((await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%${MARK}%' AND pid <> pg_backend_pid()`))[0].n);

describe("client drops mid-result", () => {
  it("the upstream query stops, regate keeps serving, and the hang-up is not logged as an error", async () => {
    const dropper = new pg.Client({ connectionString: regate.url() });
    dropper.on("error", () => undefined);
    await dropper.connect();
    const sock = (dropper as unknown as { connection: { stream: import("node:net").Socket } }).connection.stream;
    // Ten million rows: far more than fits in socket buffers, so the upstream is mid-stream when we cut.
    let rows = 0;
    const q = dropper.query(new pg.Query(`SELECT g AS ${MARK}, repeat('x', 100) FROM generate_series(1, 10000000) g`));
    q.on("row", () => {
      // Stop reading: the upstream backend blocks on a full socket, still running the query.
      if (++rows === 1000) sock.pause();
    });
    q.on("error", () => undefined);
    expect(await eventually(async () => rows >= 1000, 20_000)).toBe(true);
    expect(await running()).toBe(1);
    sock.destroy();
    // The backend that served the dropped client must go (PostgreSQL ends it when its socket closes).
    expect(await eventually(async () => (await running()) === 0, 15_000)).toBe(true);
    await expect(other.query("SELECT 1 AS one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    const errors = regate.logs().split("\n").filter((l) => /"level":"(error|fatal)"/.test(l));
    expect(errors).toEqual([]);
  }, 60_000);
});
