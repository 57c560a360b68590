// The fleet store is written by every replica with the store's credentials: a compromised host can put any
// replica and file name in it. `regate recordings pull --to DIR` runs on a responder's machine and must never
// write outside DIR, whatever names the store holds.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { PgRecordingStore, pullRecordings } from "../../src/recording/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";

let db: TestPostgres;
let root: string;
const upstream = () => ({ host: db.host, port: db.port, database: db.database, user: db.adminUser, password: new Secret(db.adminPassword, "test"), sslmode: "disable" as const, connect_timeout_ms: 5000 });

beforeAll(async () => {
  db = await startPostgres({ loadDemo: false });
  root = mkdtempSync(join(tmpdir(), "regate-pull-rt-"));
  const store = new PgRecordingStore({ upstream: upstream(), schema: "regate", replica: "tables", queueMaxBytes: 1000, batchMaxRecords: 10, onBacklog: "drop", log: createLogger({ level: "silent" }) });
  await store.start();
  await store.close(100);
}, 120_000);

afterAll(async () => {
  await db?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function rows(values: [string, string][]): Promise<void> {
  const c = new pg.Client({ host: db.host, port: db.port, database: db.database, user: db.adminUser, password: db.adminPassword });
  await c.connect();
  try {
    await c.query("DELETE FROM regate.recording_records");
    for (const [replica, file] of values) await c.query("INSERT INTO regate.recording_records (replica, file, seq, line) VALUES ($1, $2, 1, $3)", [replica, file, '{"planted":true}']);
  } finally {
    await c.end();
  }
}

describe("recordings pull with names planted in the store", () => {
  it.each([
    ["a replica named ..", "..", "planted.jsonl"],
    ["a replica named .", ".", "journal.jsonl"],
    ["a file named ..", "r1", ".."],
    ["a file that is not a recording", "r1", ".bashrc"],
  ])("%s: refused, nothing written outside --to", async (_name, replica, file) => {
    const base = mkdtempSync(join(root, "case-"));
    const to = join(base, "pulled");
    mkdirSync(to);
    await rows([[replica, file]]);
    await expect(pullRecordings({ upstream: upstream(), schema: "regate", to, reader: "rt" })).rejects.toThrow(/file name regate never writes/);
    expect(readdirSync(base)).toEqual(["pulled"]);
    expect(existsSync(join(base, "planted.jsonl"))).toBe(false);
  });

  it("names regate writes are pulled", async () => {
    const to = mkdtempSync(join(root, "ok-"));
    await rows([["replica-1.pod", "journal.jsonl"], ["replica-1.pod", "20260101T000000000Z_abc-1.jsonl"]]);
    const pulled = await pullRecordings({ upstream: upstream(), schema: "regate", to, reader: "rt" });
    expect(pulled).toEqual([{ replica: "replica-1.pod", files: 1, records: 2 }]);
    expect(readdirSync(join(to, "replica-1.pod")).sort()).toEqual(["20260101T000000000Z_abc-1.jsonl", "journal.jsonl"]);
  });
});
