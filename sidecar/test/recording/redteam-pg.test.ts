// The recording and export attacks of redteam.test.ts, through the real data path: node-postgres against
// regate in front of a real PostgreSQL, recording signed, OCSF events to a file, then the CLI a responder uses.
import { createHash, generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { recordingsCommand } from "../../src/cli/recordings.js";
import { canonicalJson, JOURNAL } from "../../src/recording/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

const PASSWORD = "Hunter2-pg-rt-secret";
const keys = generateKeyPairSync("ed25519");
let db: TestPostgres;
let regate: TestRegate;
let root: string;
let dir: string;
let ocsf: string;
let pubFile: string;

function cli(...args: string[]): { status: number; stdout: string } {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { status: recordingsCommand(args, {}), stdout: out.join("") };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  db = await startPostgres();
  root = await mkdtemp(join(tmpdir(), "regate-rec-rt-pg-"));
  dir = join(root, "recordings");
  ocsf = join(root, "ocsf.jsonl");
  pubFile = join(root, "pub.pem");
  writeFileSync(pubFile, keys.publicKey.export({ type: "spki", format: "pem" }).toString());
  regate = await startRegate(db, {
    recording: { enabled: true, dir, signing_key: { value: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }, checkpoint_records: 4 },
    export: { ocsf: { enabled: true, sink: "file", file: ocsf } },
  });
  // Three sessions, each closed: the middle one is the one an attacker will try to make disappear.
  const sessions: [string, string[]][] = [
    ["rt-first", ["SELECT 1", "SELECT 2"]],
    ["rt-app\u001b[2J\u001b[H", [`ALTER ROLE app_user WITH PASSWORD '${PASSWORD}'`, `SELECT 'x\u001b[1A\u001b[2K' AS y`, "SELECT id FROM public.orders LIMIT 1"]],
    ["rt-last", ["SELECT 3", "SELECT 4"]],
  ];
  for (const [application_name, sqls] of sessions) {
    const c = new pg.Client({ connectionString: regate.url(), application_name });
    c.on("error", () => undefined);
    await c.connect();
    for (const sql of sqls) await c.query(sql).catch(() => undefined);
    await c.query("SELECT dblink_connect($1)", [`host=h password=${PASSWORD}`]).catch(() => undefined);
    await c.end();
  }
  await regate.stop();
}, 120_000);

afterAll(async () => {
  await regate?.stop().catch(() => undefined);
  await db?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const files = () => readdirSync(dir).filter((f) => f.endsWith(".jsonl") && f !== JOURNAL).sort();

describe("a password an agent set, through the data path", () => {
  it("is in neither the recordings nor the OCSF events", () => {
    const recorded = files().map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    expect(recorded).toMatch(/ALTER ROLE app_user WITH PASSWORD '\*\*\*\*'/);
    expect(recorded).toMatch(/dblink_connect/);
    expect(recorded).not.toContain(PASSWORD);
    const events = readFileSync(ocsf, "utf8");
    expect(events).toMatch(/ALTER ROLE app_user WITH PASSWORD/);
    expect(events).not.toContain(PASSWORD);
  });
});

describe("the responder's terminal", () => {
  it("replay and list print what the agent sent as escapes, never as control sequences", () => {
    const listed = cli("list", "--dir", dir).stdout;
    const replayed = files().map((f) => cli("replay", f, "--dir", dir).stdout).join("");
    for (const text of [listed, replayed]) expect(text).not.toMatch(/[\u001b\u009b]/);
    // Marked as the recordings page and reviewers mark them (approval/visible.ts).
    expect(listed).toContain("rt-app⟨U+001B⟩[2J");
    expect(replayed).toContain("⟨U+001B⟩[1A");
  });
});

describe("the signed recording, rewritten without the key", () => {
  it("verifies as it was written", () => {
    expect(cli("verify", "--dir", dir, "--public-key", pubFile).status).toBe(0);
  });

  it("a whole session removed and the journal's hashes recomputed: verify fails", () => {
    const victim = files()[1]!;
    const journal = readFileSync(join(dir, JOURNAL), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const saved = { journal: readFileSync(join(dir, JOURNAL)), file: readFileSync(join(dir, victim)) };
    try {
      unlinkSync(join(dir, victim));
      let prev = "0".repeat(64);
      const kept = journal.filter((r) => r["file"] !== victim).map((r, i) => {
        const line = canonicalJson({ ...r, seq: i + 1, prev });
        prev = createHash("sha256").update(line).digest("hex");
        return `${line}\n`;
      });
      writeFileSync(join(dir, JOURNAL), kept.join(""));
      const r = cli("verify", "--dir", dir, "--public-key", pubFile);
      expect(r.status).toBe(2);
      expect(r.stdout).toMatch(/BAD  journal.jsonl record \d+: (checkpoint|closed) record of .* has a bad signature/);
    } finally {
      writeFileSync(join(dir, JOURNAL), saved.journal);
      writeFileSync(join(dir, victim), saved.file);
    }
  });
});
