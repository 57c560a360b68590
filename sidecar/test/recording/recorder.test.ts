import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import type { Statement } from "../../src/postgres/index.js";
import { newStatement } from "../../src/postgres/lifecycle/statement.js";
import { ChainFile } from "../../src/recording/chain-file.js";
import { applyRetention, canonicalJson, JOURNAL, readJournal, Recorder, recordingFiles, verifyDir } from "../../src/recording/index.js";

// The recorder driven through its hooks as the session drives them, then the files tampered with the
// ways an intruder would: each must be caught by verify, naming the record.

const log = createLogger({ level: "fatal" });
const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "regate-rec-"));
  dirs.push(d);
  return d;
}

let n = 0;
function session(): SessionInput {
  n++;
  return {
    id: `s${n}-${Date.now()}`,
    principal: { subject: "agent-a", groups: ["agents"], claims: { secret_claim: "never-recorded" }, auth_method: "scram-sha-256" },
    client: { address: "127.0.0.1", port: 5000 + n },
    target: "db",
    started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    application_name: "unit",
  };
}

function decision(outcome: Decision["outcome"], mask: Decision["mask"] = []): Decision {
  return { decision_id: `d-${Math.random()}`, outcome, reasons: outcome === "deny" ? ["no"] : [], mask, dry_run: false, revision: "rev1" };
}

/** One session of `k` statements, ended by the client. */
function drive(rec: Recorder, k = 3, s = session()): SessionInput {
  for (let i = 1; i <= k; i++) {
    const st: Statement = newStatement(i, "query", `SELECT ${i}`);
    const d = decision("allow");
    rec.hooks.decided!(s, st, d);
    st.result = { command_tags: ["SELECT 1"], rows: 1, bytes: 10, masked_values: 0, duration_ms: 0.5 };
    st.completed = true;
    rec.hooks.completed!(s, st);
  }
  rec.hooks.ended!(s, "client");
  return s;
}

function lines(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

function onlyFile(dir: string): string {
  const [f] = recordingFiles(dir);
  return join(dir, f!);
}

describe("canonical JSON", () => {
  it.each([
    [{ b: 1, a: [1, { d: null, c: "x" }], u: undefined }, '{"a":[1,{"c":"x","d":null}],"b":1}'],
    ["é\n", '"é\\n"'],
    [[undefined, NaN], "[null,null]"],
  ])("%j", (value, text) => expect(canonicalJson(value)).toBe(text));
});

describe("recordings verify", () => {
  it("an untouched directory verifies; the records are start, statement/result pairs, end", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1.2.3" });
    drive(rec);
    drive(rec, 1);
    rec.close();
    const report = verifyDir(dir);
    expect(report).toMatchObject({ ok: true, files: 2, open: [], problems: [] });
    const types = lines(join(dir, recordingFiles(dir)[0]!)).map((l) => JSON.parse(l).type);
    expect(types).toEqual(["start", "statement", "result", "statement", "result", "statement", "result", "end"]);
    const text = readFileSync(join(dir, recordingFiles(dir)[0]!), "utf8");
    expect(text).not.toContain("never-recorded");
    expect(JSON.parse(lines(join(dir, recordingFiles(dir)[0]!)).at(-1)!)).toMatchObject({ type: "end", reason: "client", statements: 3, rows: 3, bytes: 30 });
  });

  type Tamper = (path: string, dir: string) => void;
  const rewrite = (path: string, f: (ls: string[]) => string[]) => writeFileSync(path, f(lines(path)).map((l) => `${l}\n`).join(""));
  const cases: [string, Tamper, { file?: string; line?: number; message: RegExp }][] = [
    ["one flipped byte in a value", (p) => rewrite(p, (ls) => ls.map((l, i) => (i === 2 ? l.replace('"SELECT 1"', '"SELECT 7"') : l))), { line: 4, message: /prev does not match/ }],
    ["a record removed", (p) => rewrite(p, (ls) => ls.filter((_, i) => i !== 3)), { line: 4, message: /seq is 5, expected 4/ }],
    ["a pair reordered", (p) => rewrite(p, (ls) => [ls[0]!, ls[1]!, ls[3]!, ls[2]!, ...ls.slice(4)]), { line: 3, message: /seq is 4, expected 3/ }],
    ["re-serialized with whitespace", (p) => rewrite(p, (ls) => ls.map((l, i) => (i === 1 ? JSON.stringify(JSON.parse(l), null, 1).replace(/\n/g, "") : l))), { line: 2, message: /canonical/ }],
    ["the last record edited", (p) => rewrite(p, (ls) => ls.map((l, i) => (i === ls.length - 1 ? canonicalJson({ ...JSON.parse(l), reason: "shutdown" }) : l))), { line: 8, message: /last record differs/ }],
    ["records cut from the end", (p) => rewrite(p, (ls) => ls.slice(0, 5)), { line: 6, message: /removed from the end/ }],
    ["cut mid-line", (p) => writeFileSync(p, readFileSync(p, "utf8").slice(0, -10)), { line: 8, message: /cut off/ }],
    ["the whole file deleted", (p) => rmSync(p), { message: /missing from the directory/ }],
    ["a whole chain rebuilt after an edit, journal left alone", (p) => rebuild(p), { line: 8, message: /last record differs/ }],
  ];
  it.each(cases)("%s is detected and the record named", (_name, tamper, expected) => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    drive(rec);
    rec.close();
    const path = onlyFile(dir);
    tamper(path, dir);
    const report = verifyDir(dir);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ file: path.split("/").at(-1), ...(expected.line ? { line: expected.line } : {}) });
    expect(report.problems[0]!.message).toMatch(expected.message);
  });

  it("a removed journal record is detected", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    drive(rec);
    drive(rec);
    rec.close();
    rewrite(join(dir, JOURNAL), (ls) => ls.filter((_, i) => i !== 1));
    const report = verifyDir(dir);
    expect(report.problems[0]).toMatchObject({ file: JOURNAL, line: 2 });
  });

  it("a session without an end and without a journal close is reported open, not bad", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    const s = session();
    rec.hooks.decided!(s, newStatement(1, "query", "SELECT 1"), decision("allow"));
    const report = verifyDir(dir);
    expect(report).toMatchObject({ ok: true, open: [recordingFiles(dir)[0]] });
    rec.close();
  });

  it("a restarted recorder continues the journal chain; a cut-off last line is removed and noted", () => {
    const dir = tempDir();
    const a = new Recorder({ dir, log, version: "1" });
    drive(a);
    a.close();
    writeFileSync(join(dir, JOURNAL), readFileSync(join(dir, JOURNAL), "utf8") + '{"half":');
    const b = new Recorder({ dir, log, version: "1" });
    drive(b);
    b.close();
    expect(verifyDir(dir)).toMatchObject({ ok: true, files: 2 });
    expect(lines(join(dir, JOURNAL)).map((l) => JSON.parse(l).type)).toEqual(["opened", "closed", "repaired", "opened", "closed"]);
  });
});

/** Recomputes every hash after an edit: caught only because the journal holds the last hash. */
function rebuild(path: string): void {
  const ls = lines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
  ls[2]!["sql"] = "SELECT 42";
  let prev = "0".repeat(64);
  const out: string[] = [];
  for (const r of ls) {
    r["prev"] = prev;
    const text = canonicalJson(r);
    out.push(text);
    prev = createHash("sha256").update(text).digest("hex");
  }
  writeFileSync(path, out.map((l) => `${l}\n`).join(""));
}

describe("masking in recordings", () => {
  it("parameters and literals are masked whole when the decision masks a column; detectors mask the rest", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    const s = session();
    const st = newStatement(1, "bind", "SELECT email FROM customers WHERE email = $1 OR ssn = '123-45-6789'");
    st.parameters = [{ value: "alice@example.com", format: "text", type_oid: 25 }, { value: null, format: "text", type_oid: 25 }];
    rec.hooks.decided!(s, st, decision("allow", [{ column: "public.customers.email", strategy: "partial" }]));
    const st2 = newStatement(2, "bind", "SELECT $1");
    st2.parameters = [{ value: "card 4111 1111 1111 1111 here", format: "text", type_oid: 25 }];
    rec.hooks.decided!(s, st2, decision("allow", [{ detector: "card", strategy: "redact" }]));
    rec.hooks.ended!(s, "client");
    rec.close();
    const text = readFileSync(onlyFile(dir), "utf8");
    expect(text).not.toContain("alice@example.com");
    expect(text).not.toContain("123-45-6789");
    expect(text).not.toContain("4111 1111 1111 1111");
    const [, first, second] = lines(onlyFile(dir)).map((l) => JSON.parse(l));
    expect(first.sql).toBe("SELECT email FROM customers WHERE email = $1 OR ssn = '****'");
    expect(first.parameters).toEqual([{ value: "****", format: "text", type_oid: 25, masked: true }, { value: null, format: "text", type_oid: 25 }]);
    expect(second.parameters[0]).toMatchObject({ value: "card **** here", masked: true });
  });
});

describe("fail closed", () => {
  it("an unwritable directory refuses every statement: admit() and a veto of the decision before it is logged", () => {
    const file = join(tempDir(), "not-a-dir");
    writeFileSync(file, "");
    const rec = new Recorder({ dir: join(file, "recordings"), log, version: "1" });
    expect(rec.admit()).toMatchObject({ code: "RECORDING_UNAVAILABLE" });
    // The allow is refused before it is logged: the veto becomes the logged and enforced decision.
    expect(rec.hooks.admit!(session(), newStatement(1, "query", "SELECT 1"), decision("allow"))).toMatchObject({ error_code: "RECORDING_UNAVAILABLE" });
  });

  it("a write failing mid-session (disk full) denies that statement and the next until a write succeeds, with no half record left", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    const s = session();
    rec.hooks.decided!(s, newStatement(1, "query", "SELECT 1"), decision("allow"));
    const spy = vi.spyOn(ChainFile.prototype, "append").mockImplementation(() => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    });
    const d = decision("allow");
    expect(rec.hooks.admit!(s, newStatement(2, "query", "SELECT 2"), d)).toMatchObject({ error_code: "RECORDING_UNAVAILABLE" });
    expect(d.outcome).toBe("allow");
    expect(rec.admit()).toMatchObject({ code: "RECORDING_UNAVAILABLE" });
    spy.mockRestore();
    // The next decision (refused by admit, so a deny) is recorded, and that success admits again.
    rec.hooks.decided!(s, newStatement(3, "query", "SELECT 3"), decision("deny"));
    expect(rec.admit()).toBeUndefined();
    rec.hooks.ended!(s, "client");
    rec.close();
    expect(verifyDir(dir)).toMatchObject({ ok: true });
  });
});

describe("retention", () => {
  function aged(dir: string, file: string, secondsAgo: number) {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(dir, file), t, t);
  }

  it("max age deletes exactly the old ended recordings, logs each deletion in the journal, and the directory still verifies", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    drive(rec);
    drive(rec);
    drive(rec);
    const live = session();
    rec.hooks.decided!(live, newStatement(1, "query", "SELECT 1"), decision("allow"));
    const files = recordingFiles(dir);
    for (const f of files) aged(dir, f, 7200);
    aged(dir, files[2]!, 10);
    const result = applyRetention(rec, { max_age_seconds: 3600, max_total_bytes: 0 });
    expect(result.deleted.map((d) => d.file)).toEqual([files[0], files[1]]);
    expect(recordingFiles(dir)).toEqual([files[2], files[3]]);
    const journal = readJournal(dir);
    expect(journal.files.get(files[0]!)!.deleted).toMatchObject({ reason: "max_age", records: 8 });
    expect(verifyDir(dir)).toMatchObject({ ok: true, open: [files[3]] });
    rec.close();
  });

  it("max total bytes deletes oldest first until under the limit", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    for (let i = 0; i < 4; i++) drive(rec);
    const files = recordingFiles(dir);
    const size = (f: string) => readFileSync(join(dir, f)).length;
    const result = applyRetention(rec, { max_age_seconds: 0, max_total_bytes: size(files[2]!) + size(files[3]!) });
    expect(result.deleted.map((d) => [d.file, d.reason])).toEqual([
      [files[0], "max_total_bytes"],
      [files[1], "max_total_bytes"],
    ]);
    expect(readdirSync(dir).sort()).toEqual([files[2], files[3], JOURNAL].sort());
    expect(verifyDir(dir).ok).toBe(true);
    rec.close();
  });

  it("a deleted file put back is detected", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    drive(rec);
    const [f] = recordingFiles(dir);
    const copy = readFileSync(join(dir, f!));
    applyRetention(rec, { max_age_seconds: 0, max_total_bytes: 1 });
    writeFileSync(join(dir, f!), copy);
    expect(verifyDir(dir).problems[0]!.message).toMatch(/retention deleted/);
    rec.close();
  });
});

describe("signed checkpoints", () => {
  it("closes and tombstones are signed; verify with the public key accepts them, refuses another key, and names a forged tombstone", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const other = generateKeyPairSync("ed25519").publicKey;
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1", signingKey: privateKey });
    drive(rec);
    drive(rec);
    const [first, second] = recordingFiles(dir);
    applyRetention(rec, { max_age_seconds: 0, max_total_bytes: readFileSync(join(dir, second!)).length });
    expect(recordingFiles(dir)).toEqual([second]);
    expect(verifyDir(dir, undefined, publicKey)).toMatchObject({ ok: true });
    expect(verifyDir(dir, undefined, other).problems.map((p) => p.line)).toEqual([2, 4, 5]);

    // Someone without the key deletes the second file and writes a tombstone for it, rebuilding the chain.
    const journal = join(dir, JOURNAL);
    const records = lines(journal).map((l) => JSON.parse(l) as Record<string, unknown>);
    const closed = records.find((r) => r["type"] === "closed" && r["file"] === second)!;
    records.push({ ...closed, type: "deleted", reason: "max_age", bytes: 1, sig: undefined, key_id: undefined });
    let prev = "0".repeat(64);
    const out = records.map((r, i) => {
      const text = canonicalJson({ ...r, seq: i + 1, prev });
      prev = createHash("sha256").update(text).digest("hex");
      return `${text}\n`;
    });
    writeFileSync(journal, out.join(""));
    rmSync(join(dir, second!));
    expect(verifyDir(dir).ok).toBe(true);
    const report = verifyDir(dir, undefined, publicKey);
    expect(report.problems).toEqual([{ file: JOURNAL, line: 6, message: `deleted record of ${second} is not signed (with this public key)` }]);
    expect(first).toBeDefined();
    rec.close();
  });
});
