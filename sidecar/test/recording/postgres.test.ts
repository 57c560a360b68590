import { generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { ChainFile } from "../../src/recording/chain-file.js";
import { clientGate } from "../clients/run.js";
import { regateArgv } from "../support/compiled-regate.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

// Sessions through psql and pg with recording on, then the recording read back with the CLI: the same
// statements, outcomes and row counts the clients saw; no protected value and no secret in any file.

const bin = (...args: string[]) => exec(process.execPath, regateArgv("recordings", ...args));

/** The CLI in process (it is synchronous): what it printed and its exit code. */
async function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  try {
    const status = recordingsCommand(args, {});
    return { status, stdout: out.join(""), stderr: err.join("") };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

let db: TestPostgres;
let dir: string;
let raw: { id: number; email: string; phone: string; ssn: string; card_number: string };
let apiSecrets: string[];
const keys = generateKeyPairSync("ed25519");
const signingPem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const root = await mkdtemp(join(tmpdir(), "regate-rec-it-"));

beforeAll(async () => {
  db = await startPostgres();
  [raw] = (await db.query(
    "SELECT id, email, phone, ssn, card_number FROM public.customers WHERE ssn IS NOT NULL AND phone IS NOT NULL AND card_number IS NOT NULL ORDER BY id LIMIT 1",
  )) as (typeof raw)[];
  apiSecrets = ((await db.query("SELECT secret FROM internal.api_keys")) as { secret: string }[]).map((r) => r.secret);
  dir = join(root, "recordings");
});

afterAll(async () => {
  await db?.stop();
  await rm(root, { recursive: true, force: true });
});

function recordingsText(d: string): string {
  return readdirSync(d)
    .map((f) => readFileSync(join(d, f), "utf8"))
    .join("\n");
}

describe("recording a Postgres session", () => {
  let regate: TestRegate;
  const seen: { sql: string; rows?: number; code?: string }[] = [];

  beforeAll(async () => {
    regate = await startRegate(db, { recording: { enabled: true, dir, signing_key: { value: signingPem } } });
    const c = new pg.Client({ connectionString: regate.url(), application_name: "rec-test" });
    c.on("error", () => undefined);
    await c.connect();
    const run = async (sql: string, params?: unknown[]) => {
      try {
        const r = await c.query(sql, params);
        seen.push({ sql, rows: r.rowCount ?? 0 });
      } catch (err) {
        seen.push({ sql, code: (err as { code?: string }).code! });
      }
    };
    await run("SELECT id FROM orders ORDER BY id LIMIT 3");
    await run("SELECT email, ssn FROM customers WHERE id = $1", [raw.id]);
    await run("SELECT id FROM customers WHERE email = $1 OR ssn = $2", [raw.email, raw.ssn]);
    await run(`SELECT id, email FROM customers WHERE ssn = '${raw.ssn}'`);
    await run("SELECT secret FROM internal.api_keys");
    await c.end();
    await exec("psql", [regate.url(), "-X", "-q", "-v", "ON_ERROR_STOP=0", "-c", "SELECT count(*) FROM orders", "-c", `SELECT card_number FROM customers WHERE id = ${raw.id}`]);
    if (!asyncpg.skip) {
      asyncpg.require();
      const script = `
import asyncio, asyncpg, sys
async def main():
    c = await asyncpg.connect(sys.argv[1], server_settings={"application_name": "rec-asyncpg"})
    rows = await c.fetch("SELECT email FROM customers WHERE id = $1", int(sys.argv[2]))
    print(len(rows))
    rows = await c.fetch("SELECT id FROM customers WHERE ssn = $1", sys.argv[3])
    print(len(rows))
    await c.close()
asyncio.run(main())
`;
      asyncpgRun = await exec(join(packageRoot, ".venv", "bin", "python"), ["-c", script, regate.url(), String(raw.id), raw.ssn]);
    }
    await regate.stop();
  });

  const asyncpg = clientGate("asyncpg");
  let asyncpgRun: { stdout: string; stderr: string } | undefined;
  it.skipIf(asyncpg.skip)(asyncpg.title("asyncpg's session (binary parameters) is recorded with the rows it saw"), async () => {
    expect(asyncpgRun!.stderr).toBe("");
    expect(asyncpgRun!.stdout.trim().split("\n")).toEqual(["1", "1"]);
    const list = JSON.parse((await cli("list", "--dir", dir, "--json")).stdout) as { session: string; application_name?: string }[];
    const session = list.find((r) => r.application_name === "rec-asyncpg")!.session;
    const records = JSON.parse((await cli("replay", session, "--dir", dir, "--json")).stdout) as Record<string, any>[];
    const bySql = (sql: string) => {
      const st = records.filter((r) => r["type"] === "statement" && r["sql"] === sql).at(-1)!;
      return { st, result: records.find((r) => r["type"] === "result" && r["stmt"] === st["stmt"])! };
    };
    const email = bySql("SELECT email FROM customers WHERE id = $1");
    expect(email.st["decision"].outcome).toBe("allow");
    expect(email.result).toMatchObject({ rows: 1, masked_values: 1 });
    const ssn = bySql("SELECT id FROM customers WHERE ssn = $1");
    expect(ssn.result).toMatchObject({ rows: 1 });
    expect(ssn.st["parameters"][0].value).not.toBe(raw.ssn);
  });

  it("replay shows the pg client's statements, outcomes and row counts in order", async () => {
    const list = JSON.parse((await cli("list", "--dir", dir, "--json")).stdout) as { session: string; application_name?: string; statements: number; refused: number; end_reason?: string }[];
    const pgSession = list.find((r) => r.application_name === "rec-test")!;
    expect(pgSession).toMatchObject({ statements: 5, refused: 1, end_reason: "client" });
    const replay = await cli("replay", pgSession.session, "--dir", dir, "--json");
    expect(replay.stderr).toBe("");
    const records = JSON.parse(replay.stdout) as Record<string, any>[];
    const statements = records.filter((r) => r["type"] === "statement");
    const results = records.filter((r) => r["type"] === "result");
    expect(records[0]).toMatchObject({ type: "start", principal: { subject: AGENT.user }, application_name: "rec-test", target: "test-db" });
    expect(statements.map((s) => s["decision"].outcome)).toEqual(["allow", "allow", "allow", "allow", "deny"]);
    expect(results.map((r) => r["rows"])).toEqual(seen.map((s) => s.rows ?? 0));
    expect(results.at(-1)!["sqlstate"]).toBe(seen.at(-1)!.code);
    expect(results[1]).toMatchObject({ command_tags: ["SELECT 1"], masked_values: 2 });
    expect(records.at(-1)).toMatchObject({ type: "end", reason: "client", statements: 5 });
    const timeline = (await cli("replay", pgSession.session, "--dir", dir)).stdout;
    expect(timeline).toContain("ALLOW  SELECT id FROM orders ORDER BY id LIMIT 3");
    expect(timeline).toContain("-> SELECT 3  3 rows");
    expect(timeline).toMatch(/DENY  SELECT secret FROM internal\.api_keys/);
  });

  it("psql's session is recorded too", async () => {
    const list = JSON.parse((await cli("list", "--dir", dir, "--json")).stdout) as { application_name?: string; statements: number; rows: number }[];
    expect(list.find((r) => r.application_name === "psql")).toMatchObject({ statements: 2, rows: 2 });
  });

  it("verify passes, then names a flipped byte", async () => {
    const pub = join(root, "recording-key.pub.pem");
    await writeFile(pub, keys.publicKey.export({ type: "spki", format: "pem" }).toString());
    const ok = await bin("verify", "--dir", dir, "--public-key", pub);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^ok: ${asyncpg.skip ? 2 : 3} recordings`, "m"));
    const file = readdirSync(dir).find((f) => f !== "journal.jsonl" && readFileSync(join(dir, f), "utf8").includes("rec-test"))!;
    const text = readFileSync(join(dir, file), "utf8");
    await writeFile(join(dir, file), text.replace("LIMIT 3", "LIMIT 4"));
    const bad = await cli("verify", "--dir", dir);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toContain(`BAD  ${file} record 3: prev does not match`);
    await writeFile(join(dir, file), text);
  });

  it("no recording holds a protected value of the demo data or a configured secret", () => {
    const all = recordingsText(dir);
    expect(all.length).toBeGreaterThan(0);
    const keyBody = signingPem.split("\n").filter((l) => l && !l.startsWith("-----"));
    const forbidden = [raw.email, raw.ssn, raw.card_number, raw.phone, ...apiSecrets, AGENT.token, db.users.scram.password, ...keyBody];
    for (const s of forbidden) expect(all, s).not.toContain(s);
  });
});

describe("fail closed", () => {
  it("an unwritable recording directory refuses every statement with RECORDING_UNAVAILABLE", async () => {
    const file = join(root, "a-file");
    await writeFile(file, "");
    const regate = await startRegate(db, { recording: { enabled: true, dir: join(file, "recordings") } });
    try {
      const r = await exec("psql", [regate.url(), "-X", "-At", "-v", "ON_ERROR_STOP=0", "-c", "SELECT 1", "-c", "SELECT 2"]);
      expect(r.stdout).toBe("");
      expect(r.stderr.match(/session recording cannot be written/g)).toHaveLength(2);
    } finally {
      await regate.stop();
    }
  });

  it("a write failing mid-session refuses that statement and the next (58030), then recovers", async () => {
    const d = join(root, "midway");
    const regate = await startRegate(db, { recording: { enabled: true, dir: d } });
    const c = new pg.Client({ connectionString: regate.url() });
    c.on("error", () => undefined);
    await c.connect();
    try {
      expect((await c.query("SELECT 1 AS x")).rows).toEqual([{ x: 1 }]);
      // The disk is full for every write: records written at once (append) and deferred ones (flush) alike.
      const full = () => {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      };
      const spy = vi.spyOn(ChainFile.prototype, "append").mockImplementation(full);
      const flushSpy = vi.spyOn(ChainFile.prototype, "flush").mockImplementation(full);
      await expect(c.query("SELECT 2")).rejects.toMatchObject({ code: "58030", message: expect.stringMatching(/recording cannot be written/) });
      await expect(c.query("SELECT 3")).rejects.toMatchObject({ code: "58030" });
      // Deferred records still waiting meet the full disk too, before it has room again.
      regate.app.recorder!.flush();
      spy.mockRestore();
      flushSpy.mockRestore();
      // The next statement is refused by admit() but recorded; that write succeeding admits again.
      await expect(c.query("SELECT 4")).rejects.toMatchObject({ code: "58030" });
      expect((await c.query("SELECT 5 AS x")).rows).toEqual([{ x: 5 }]);
      const metrics = await regate.app.metrics.registry.metrics();
      expect(metrics).toMatch(/^regate_recording_refused_decisions_total 3$/m);
      expect(metrics).toMatch(/^regate_recording_failing 0$/m);
      expect(metrics).toMatch(/^regate_recording_write_failures_total [1-9]/m);
    } finally {
      await c.end();
      await regate.stop();
    }
    expect((await cli("verify", "--dir", d)).status).toBe(0);
  });
});
