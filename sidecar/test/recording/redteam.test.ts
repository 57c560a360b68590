import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import { newStatement } from "../../src/postgres/lifecycle/statement.js";
import { canonicalJson, formatTimeline, JOURNAL, printableJson, Recorder, recordingFiles, verifyDir, type ChainRecord } from "../../src/recording/index.js";
import { recordableRequest } from "../../src/recording/http-redact.js";
import { recordingsHandler } from "../../src/admin/recordings.js";

// Attacks on what a responder relies on: someone who can rewrite the recording directory (but does not hold
// the signing key) must not make a signed recording say less than it did, and nothing an agent typed may
// rewrite the responder's terminal or hide in the recording a password it set.

const log = createLogger({ level: "fatal" });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let n = 0;
function session(extra: Partial<SessionInput> = {}): SessionInput {
  n++;
  return {
    id: `rt${n}-${Date.now()}`,
    principal: { subject: "agent-a", groups: ["agents"], auth_method: "token" },
    client: { address: "127.0.0.1", port: 7000 + n },
    target: "db",
    started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    ...extra,
  };
}

const allow = (): Decision => ({ decision_id: `d-${n}-${Math.random()}`, outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "rev1" });

function run(rec: Recorder, s: SessionInput, sqls: string[]): void {
  sqls.forEach((sql, i) => {
    const st = newStatement(i + 1, "query", sql);
    rec.hooks.decided!(s, st, allow());
    st.result = { command_tags: ["SELECT 1"], rows: 1, bytes: 10, masked_values: 0, duration_ms: 0.5 };
    rec.hooks.completed!(s, st);
  });
  rec.hooks.ended!(s, "client");
}

const keys = generateKeyPairSync("ed25519");
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

/** Rewrites a chain file from records, recomputing seq and every hash, as an attacker without the key can. */
function rechain(path: string, records: Record<string, unknown>[]): void {
  let prev = "0".repeat(64);
  const out = records.map((r, i) => {
    const line = canonicalJson({ ...r, seq: i + 1, prev });
    prev = createHash("sha256").update(line).digest("hex");
    return line;
  });
  writeFileSync(path, out.map((l) => `${l}\n`).join(""));
}

/** Three closed sessions recorded with a signing key and a checkpoint every 4 records. */
function signedDir(): { dir: string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "regate-rec-rt-"));
  dirs.push(dir);
  const rec = new Recorder({ dir, log, version: "1", checkpointRecords: 4, signingKey: keys.privateKey });
  for (let i = 0; i < 3; i++) run(rec, session(), ["SELECT 1", "SELECT 2", "DELETE FROM accounts", "SELECT 4", "SELECT 5"]);
  rec.close();
  const files = recordingFiles(dir);
  expect(files).toHaveLength(3);
  expect(verifyDir(dir, undefined, keys.publicKey)).toMatchObject({ ok: true, open: [] });
  return { dir, files };
}

describe("a signed recording directory rewritten without the key", () => {
  it("a session's tail cut back to a checkpoint, its close removed and the journal rebuilt: detected", () => {
    const { dir, files } = signedDir();
    const victim = files[0]!;
    const path = join(dir, victim);
    // Keep the first 8 records (a signed checkpoint vouches for them): the DELETE's result and the end go.
    writeFileSync(path, lines(path).slice(0, 8).map((l) => `${l}\n`).join(""));
    const journal = lines(join(dir, JOURNAL)).map((l) => JSON.parse(l) as ChainRecord);
    rechain(join(dir, JOURNAL), journal.filter((r) => !(r.type === "closed" && r["file"] === victim)));
    const report = verifyDir(dir, undefined, keys.publicKey);
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.file === JOURNAL && /signature/.test(p.message))).toBe(true);
  });

  it("a whole session removed (file and journal entries) and the journal rebuilt: detected", () => {
    const { dir, files } = signedDir();
    const victim = files[1]!;
    unlinkSync(join(dir, victim));
    const journal = lines(join(dir, JOURNAL)).map((l) => JSON.parse(l) as ChainRecord);
    rechain(join(dir, JOURNAL), journal.filter((r) => r["file"] !== victim));
    const report = verifyDir(dir, undefined, keys.publicKey);
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.file === JOURNAL && /signature/.test(p.message))).toBe(true);
  });

  it("signed journal records reordered and the journal rebuilt: detected", () => {
    const { dir } = signedDir();
    const journal = lines(join(dir, JOURNAL)).map((l) => JSON.parse(l) as ChainRecord);
    const closes = journal.map((r, i) => (r.type === "closed" ? i : -1)).filter((i) => i >= 0);
    const [a, b] = [closes[0]!, closes[1]!];
    [journal[a], journal[b]] = [journal[b]!, journal[a]!];
    rechain(join(dir, JOURNAL), journal);
    expect(verifyDir(dir, undefined, keys.publicKey).ok).toBe(false);
  });

  it("an untouched directory still verifies with the key", () => {
    const { dir } = signedDir();
    expect(verifyDir(dir, undefined, keys.publicKey)).toMatchObject({ ok: true, problems: [] });
  });
});

describe("what an agent typed, shown to a responder", () => {
  const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  const records = (): ChainRecord[] => {
    const base = { v: 1 as const, prev: "", ts: "2026-01-01T00:00:00.000Z" };
    return [
      { ...base, seq: 1, type: "start", session: "s\u001b]0;x\u0007", principal: { subject: "agent\u202e" }, client: { address: "127.0.0.1", port: 1 }, application_name: "app\u001b[2J\u001b[H" },
      { ...base, seq: 2, type: "statement", stmt: 1, sql: "SELECT 1 /*\u001b[1A\u001b[2K ALLOW*/", decision: { outcome: "deny", reasons: ["no\u001b[31m"], decision_id: "d\u009b1" }, parameters: [{ value: "\u001b[8m" }] },
      { ...base, seq: 3, type: "request", request: { method: "GET\u001b[K", path: "/x\u001b[2K", route: "r\u0008" }, decision: { outcome: "allow", decision_id: "d2" } },
      { ...base, seq: 4, type: "approval", kind: "approval_approved", actor: "rev\u001b[0m", reason: "ok\u0085" },
      { ...base, seq: 5, type: "weird\u001b[2J", note: "x" },
    ];
  };

  it("JSON output keeps its value and its layout, with C1 controls and bidi overrides escaped", () => {
    const json = JSON.stringify(records(), null, 2);
    const shown = printableJson(json);
    expect(shown.split("\n").filter((l) => CONTROL.test(l))).toEqual([]);
    expect(JSON.parse(shown)).toEqual(JSON.parse(json));
    expect(shown.split("\n").length).toBe(json.split("\n").length);
  });

  it("the timeline carries no terminal control or bidi characters, escaped visibly instead", () => {
    const text = formatTimeline(records());
    const bad = text.split("\n").filter((l) => CONTROL.test(l));
    expect(bad).toEqual([]);
    expect(text).toContain("⟨U+001B⟩[2K");
    // A newline in a field would start a forged line of its own.
    const forged = formatTimeline([{ ...records()[0]!, application_name: "x\n2026-01-01T00:00:00.000Z  #9  ALLOW  SELECT 1" }]);
    expect(forged.split("\n").filter(Boolean)).toHaveLength(1);
  });
});

describe("passwords an agent set", () => {
  it.each([
    "ALTER ROLE app PASSWORD 'Hunter2-rt-secret'",
    "alter user app with encrypted password 'Hunter2-rt-secret' valid until 'infinity'",
    "CREATE ROLE x LOGIN PASSWORD 'Hunter2-rt-secret'",
    "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'Hunter2-rt-secret')",
    "ALTER USER MAPPING FOR app SERVER s OPTIONS (SET password $$Hunter2-rt-secret$$)",
    "SELECT dblink_connect('host=h user=u password=Hunter2-rt-secret')",
    "SELECT import_from('postgresql://app:Hunter2-rt-secret@db.internal/prod')",
  ])("%s: the password is not in the recording", (sql) => {
    const dir = mkdtempSync(join(tmpdir(), "regate-rec-rt-"));
    dirs.push(dir);
    const rec = new Recorder({ dir, log, version: "1" });
    run(rec, session(), [sql]);
    rec.close();
    const text = readFileSync(join(dir, recordingFiles(dir)[0]!), "utf8");
    expect(text).toContain("statement");
    expect(text).not.toContain("Hunter2-rt-secret");
  });

  it("a connection string passed as a parameter (dblink_connect($1)) is not in the recording", () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-rec-rt-"));
    dirs.push(dir);
    const rec = new Recorder({ dir, log, version: "1" });
    const s = session();
    const st = newStatement(1, "parse", "SELECT dblink_connect($1)");
    st.parameters = [{ value: "host=h password=Hunter2-rt-secret", format: "text" }];
    rec.hooks.decided!(s, st, allow());
    rec.hooks.ended!(s, "client");
    rec.close();
    const text = readFileSync(join(dir, recordingFiles(dir)[0]!), "utf8");
    expect(text).toContain("dblink_connect");
    expect(text).not.toContain("Hunter2-rt-secret");
  });
});

describe("an agent's own credentials in an HTTP request", () => {
  it("values under credential names (query, body, MCP arguments) are replaced whole; other values stay", () => {
    const d: Decision = { ...allow(), mask: [] };
    const r = recordableRequest(
      {
        method: "POST",
        path: "/hooks",
        parsed_query: { access_token: ["ghx-rt-1"], "X-Amz-Signature": ["ab12cd"], page: ["2"] },
        parsed_body: { user: "bob", password: "rt-pw-2", nested: { client_secret: "rt-cs-3", apiKey: 7 }, max_tokens: 100 },
        mcp: { type: "request", method: "tools/call", tool: "login", arguments: { refresh_token: "rt-rt-4", query: "x" } },
      },
      d,
    );
    const text = JSON.stringify(r);
    for (const secret of ["ghx-rt-1", "ab12cd", "rt-pw-2", "rt-cs-3", "rt-rt-4"]) expect(text).not.toContain(secret);
    expect(r).toMatchObject({ query: { page: ["2"], access_token: "****" }, body: { user: "bob", max_tokens: 100, nested: { apiKey: "****" } }, mcp: { arguments: { query: "x" } } });
  });
});

describe("the recordings API with paths that try to leave the directory", () => {
  function call(dir: string, url: string): { status: number; body: string; headers: Record<string, string> } {
    const handler = recordingsHandler(dir, [{ name: "responder", token: "rt-responder-token" }], log);
    const out = { status: 0, body: "", headers: {} as Record<string, string> };
    const res = { writeHead: (status: number, headers?: Record<string, string>) => ((out.status = status), (out.headers = headers ?? {}), res), end: (b?: string) => void (out.body = b ?? "") };
    handler({ method: "GET", headers: { authorization: "Bearer rt-responder-token" } } as never, res as never, url);
    return out;
  }

  it.each([
    ["/recordings/%E0%A4%A", 400],
    ["/recordings/..%2F..%2Fetc%2Fpasswd", 404],
    ["/recordings/..", 404],
    ["/recordings/journal.jsonl", 404],
    ["/recordings/reads.log", 404],
    ["/recordings/../journal.jsonl", 404],
  ])("%s: %i, nothing outside the recordings read", (url, status) => {
    const dir = mkdtempSync(join(tmpdir(), "regate-rec-rt-"));
    dirs.push(dir);
    const rec = new Recorder({ dir, log, version: "1" });
    run(rec, session(), ["SELECT 1"]);
    rec.close();
    const r = call(dir, url);
    expect(r.status).toBe(status);
    expect(r.body).not.toMatch(/root:|"records"/);
  });

  it("the page cannot be framed by another site", () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-rec-rt-"));
    dirs.push(dir);
    const r = call(dir, "/recordings/ui");
    expect(r.status).toBe(200);
    expect(r.headers["content-security-policy"]).toMatch(/frame-ancestors 'none'/);
  });
});
