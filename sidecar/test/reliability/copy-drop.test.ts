// Fault: an agent hangs up in the middle of a COPY, both ways. Judged by the database (a COPY FROM cut off
// inserts nothing; the backend of either COPY goes away) and by another agent's session.
import type { Socket } from "node:net";
import pg from "pg";
import { serialize } from "pg-protocol";
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

/** A logged-in agent whose socket is then driven by hand (node-postgres' own reader detached). */
async function rawAgent(): Promise<{ sock: Socket; received: () => Buffer }> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  const sock = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  sock.removeAllListeners("data");
  const chunks: Buffer[] = [];
  sock.on("data", (b: Buffer) => chunks.push(b));
  return { sock, received: () => Buffer.concat(chunks) };
}

const backends = async (like: string) =>
  Number((await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", [like]))[0].n);

describe("client drops mid-COPY", () => {
  it("COPY FROM STDIN cut off after some rows: nothing inserted, the backend goes, regate keeps serving", async () => {
    const before = Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n);
    const { sock, received } = await rawAgent();
    sock.write(serialize.query("COPY public.orders (customer_id, amount, status, created_at) FROM STDIN"));
    // CopyInResponse ('G') means the server is in COPY IN mode.
    expect(await eventually(async () => received().includes(0x47), 10_000)).toBe(true);
    for (let i = 0; i < 200; i++) sock.write(serialize.copyData(Buffer.from(`1\t${i}.00\tpending\t2026-01-01 00:00:00+00\n`)));
    expect(await eventually(async () => (await backends("COPY public.orders%")) === 1, 10_000)).toBe(true);
    sock.destroy();
    expect(await eventually(async () => (await backends("COPY public.orders%")) === 0, 15_000)).toBe(true);
    expect(Number((await db.query("SELECT count(*)::int AS n FROM public.orders"))[0].n)).toBe(before);
    await expect(other.query("SELECT 1 AS one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
  }, 60_000);

  it("COPY TO STDOUT of a large result, reader stops then hangs up: the backend goes, regate keeps serving", async () => {
    const { sock, received } = await rawAgent();
    sock.write(serialize.query("COPY (SELECT g AS copy_drop_mark, repeat('x', 100) FROM generate_series(1, 10000000) g) TO STDOUT"));
    // CopyOutResponse ('H') then data; stop reading after the first megabyte.
    expect(await eventually(async () => received().length > 1 << 20, 20_000)).toBe(true);
    sock.pause();
    expect(await backends("COPY (SELECT g AS copy_drop_mark%")).toBe(1);
    sock.destroy();
    expect(await eventually(async () => (await backends("COPY (SELECT g AS copy_drop_mark%")) === 0, 15_000)).toBe(true);
    await expect(other.query("SELECT 2 AS two")).resolves.toMatchObject({ rows: [{ two: 2 }] });
    const errors = regate.logs().split("\n").filter((l) => /"level":"(error|fatal)"/.test(l));
    expect(errors).toEqual([]);
  }, 60_000);
});
