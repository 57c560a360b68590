import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingFiles } from "../../src/recording/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { outputDir } from "../support/test-output.js";

// recording.rows: the first rows of each result, as the client got them after masking, in the result
// record; never a protected value (the client's own masked values are what is kept).

let db: TestPostgres;
let regate: TestRegate;
const dir = join(outputDir("suite", "recording-rows"), "recordings");
let raw: { email: string; ssn: string; phone: string }[];

beforeAll(async () => {
  db = await startPostgres();
  raw = (await db.query("SELECT email, ssn, phone FROM public.customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 3")) as typeof raw;
  regate = await startRegate(db, { recording: { enabled: true, dir, rows: 2 } });
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("result rows in recordings", () => {
  it("keeps the first N rows of a result as the client saw them, masked (simple and extended query)", async () => {
    const c = new pg.Client({ connectionString: regate.url(), application_name: "rows-test" });
    await c.connect();
    const seen = await c.query("SELECT id, email, ssn FROM customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 3");
    const ids = await c.query({ text: "SELECT id FROM orders ORDER BY id LIMIT $1", values: [5] });
    await c.end();
    await regate.stop();

    const file = recordingFiles(dir).find((f) => readFileSync(join(dir, f), "utf8").includes('"application_name":"rows-test"'))!;
    const records = readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
    const results = records.filter((r) => r["type"] === "result");
    expect(results[0]).toMatchObject({ rows: 3 });
    // What the client received, masked by the policy, two rows of three.
    expect(results[0]!["rows_sample"]).toEqual(seen.rows.slice(0, 2).map((r) => [String(r.id), r.email, r.ssn]));
    expect(results[1]!["rows_sample"]).toEqual(ids.rows.slice(0, 2).map((r) => [String(r.id)]));
    const text = readFileSync(join(dir, file), "utf8");
    for (const r of raw) for (const v of [r.email, r.ssn, r.phone]) expect(text).not.toContain(v);
  });
});
