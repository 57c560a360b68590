import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Approval } from "../../src/approval/index.js";
import { approvalEvents, budgetCutEvents, LifecycleBus, sessionEndedEvent } from "../../src/audit/index.js";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import { newStatement } from "../../src/postgres/lifecycle/statement.js";
import { checkJournalHead, JOURNAL, lifecycleRecorder, Recorder, recordingFiles, verifyDir } from "../../src/recording/index.js";
import { recordingsCommand } from "../../src/cli/recordings.js";

// Periodic checkpoints: a live session's file cut after a checkpoint is caught before the session closes;
// lifecycle events as records of their own.

const log = createLogger({ level: "fatal" });
const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "regate-rec-cp-"));
  dirs.push(d);
  return d;
}

let n = 0;
function session(): SessionInput {
  n++;
  return {
    id: `cp${n}-${Date.now()}`,
    principal: { subject: "agent-a", groups: ["agents"], auth_method: "token" },
    client: { address: "127.0.0.1", port: 6000 + n },
    target: "db",
    started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  };
}

const allow = (): Decision => ({ decision_id: `d-${Math.random()}`, outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "rev1" });

/** `k` statements, each a statement and a result record; the session stays open. */
function statements(rec: Recorder, s: SessionInput, k: number, from = 1): void {
  for (let i = from; i < from + k; i++) {
    const st = newStatement(i, "query", `SELECT ${i}`);
    rec.hooks.decided!(s, st, allow());
    st.result = { command_tags: ["SELECT 1"], rows: 1, bytes: 10, masked_values: 0, duration_ms: 0.5 };
    rec.hooks.completed!(s, st);
  }
}

const journal = (dir: string) => readFileSync(join(dir, JOURNAL), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
const keys = generateKeyPairSync("ed25519");

describe("periodic checkpoints", () => {
  it("every N records a signed checkpoint; a live file cut after one is detected, naming the journal record", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1", checkpointRecords: 4, signingKey: keys.privateKey });
    const s = session();
    statements(rec, s, 5); // start + 10 records
    const cps = journal(dir).filter((r) => r["type"] === "checkpoint");
    expect(cps.map((c) => c["records"])).toEqual([4, 8]);
    expect(cps.every((c) => typeof c["sig"] === "string")).toBe(true);
    const intact = verifyDir(dir, undefined, keys.publicKey);
    expect(intact).toMatchObject({ ok: true, open: [recordingFiles(dir)[0]] });

    // Cut the live file back to 6 whole records: below the second checkpoint's 8.
    const file = join(dir, recordingFiles(dir)[0]!);
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    writeFileSync(file, lines.slice(0, 6).join("\n") + "\n");
    const cut = verifyDir(dir, undefined, keys.publicKey);
    expect(cut.ok).toBe(false);
    expect(cut.problems).toEqual([{ file: recordingFiles(dir)[0], line: 7, message: expect.stringMatching(/records removed from the end: the journal checkpointed it at 8 records \(journal record \d+\), the file has 6/) }]);
    rec.close();
  });

  it("a chain rebuilt after an edit before a checkpoint differs from the checkpoint's hash", async () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1", checkpointRecords: 3 });
    statements(rec, session(), 2);
    rec.close();
    const file = join(dir, recordingFiles(dir)[0]!);
    // Rewrite record 2 and recompute every hash after it, as someone holding the file but not the journal would.
    const { canonicalJson } = await import("../../src/recording/index.js");
    const { createHash } = await import("node:crypto");
    const records = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    records[1]!["sql"] = "SELECT 42";
    let prev = "0".repeat(64);
    const out = records.map((r) => {
      const line = canonicalJson({ ...r, prev });
      prev = createHash("sha256").update(line).digest("hex");
      return line;
    });
    writeFileSync(file, out.join("\n") + "\n");
    const report = verifyDir(dir);
    expect(report.problems).toEqual([{ file: recordingFiles(dir)[0], line: 3, message: expect.stringMatching(/record 3 differs from the one the journal checkpointed/) }]);
  });

  it("every T seconds a live session with new records is checkpointed", () => {
    vi.useFakeTimers();
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1", checkpointSeconds: 2 });
    const s = session();
    statements(rec, s, 1);
    expect(journal(dir).filter((r) => r["type"] === "checkpoint")).toHaveLength(0);
    vi.advanceTimersByTime(2500);
    expect(journal(dir).filter((r) => r["type"] === "checkpoint").map((c) => c["records"])).toEqual([3]);
    // Nothing new: no second checkpoint.
    vi.advanceTimersByTime(5000);
    expect(journal(dir).filter((r) => r["type"] === "checkpoint")).toHaveLength(1);
    rec.close();
  });
});

describe("the signed journal head", () => {
  it("a head taken earlier shows the journal's last records cut (with the files they closed), and a rewrite", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1", signingKey: keys.privateKey });
    const a = session();
    statements(rec, a, 1);
    rec.hooks.ended!(a, "client");
    const b = session();
    statements(rec, b, 1);
    rec.hooks.ended!(b, "client");
    const head = rec.head();
    rec.close();
    expect(head).toMatchObject({ type: "journal_head", records: 4, sig: expect.any(String) });
    expect(checkJournalHead(dir, head, keys.publicKey)).toBeUndefined();
    const headFile = join(dir, "..", `${dir.split("/").at(-1)}-head.json`);
    writeFileSync(headFile, JSON.stringify(head));
    dirs.push(headFile);
    const verify = () => {
      const out: string[] = [];
      const o = vi.spyOn(process.stdout, "write").mockImplementation((t) => (out.push(String(t)), true));
      try {
        return { status: recordingsCommand(["verify", "--dir", dir, "--journal-head", headFile, "--public-key", pubFile], {}), out: out.join("") };
      } finally {
        o.mockRestore();
      }
    };
    const pubFile = join(dir, "..", `${dir.split("/").at(-1)}-pub.pem`);
    writeFileSync(pubFile, keys.publicKey.export({ type: "spki", format: "pem" }));
    dirs.push(pubFile);
    expect(verify().status).toBe(0);

    // Cut session b: its file, and its opened/closed records at the journal's end. The rest verifies.
    const journalLines = readFileSync(join(dir, JOURNAL), "utf8").split("\n").filter(Boolean);
    writeFileSync(join(dir, JOURNAL), journalLines.slice(0, 2).join("\n") + "\n");
    rmSync(join(dir, recordingFiles(dir).find((f) => f.includes(b.id))!));
    expect(verifyDir(dir, undefined, keys.publicKey).ok).toBe(true);
    const cut = verify();
    expect(cut.status).toBe(2);
    expect(cut.out).toContain("BAD  journal.jsonl: the journal was cut: it had 4 records at");

    // A forged head (records changed after signing) is refused with the public key.
    expect(checkJournalHead(dir, { ...head, records: 2 }, keys.publicKey)).toMatch(/bad signature/);
  });
});

describe("lifecycle events in the recording", () => {
  it("approval transitions, a budget cut and a kill are records of the session; after its end, journal events", () => {
    const dir = tempDir();
    const rec = new Recorder({ dir, log, version: "1" });
    const bus = new LifecycleBus();
    bus.listen(lifecycleRecorder(rec));
    const s = session();
    const st = newStatement(1, "query", "UPDATE orders SET status = 'refunded' WHERE id = 7");
    const d: Decision = { ...allow(), outcome: "approve", reasons: ["refunds need approval"], approve: { reason: "refunds need approval", approvers: "leads", timeout_seconds: 60 } };
    rec.hooks.decided!(s, st, d);
    const approval = { id: "apr_0123456789abcdef", kind: "postgres", decision_id: d.decision_id, session_id: s.id, principal: "agent-a", target: "db", reason: "refunds need approval", statement: { message: "query", sql: st.sql } } as unknown as Approval;
    const onEvent = approvalEvents(bus);
    onEvent("approval_requested", approval);
    onEvent("approval_vote", approval); // not a lifecycle event: nothing recorded
    onEvent("approval_approved", { ...approval, reviewer: "lead-1", comment: "ok, ticket 42" } as Approval);
    st.decision = d;
    st.result = { command_tags: ["UPDATE 1"], rows: 0, bytes: 0, masked_values: 0, duration_ms: 1, budget_cut: "rows" };
    budgetCutEvents(bus).completed!(s, st);
    sessionEndedEvent(bus, s, { actor: "oncall", reason: "runaway agent", statement: "SELECT * FROM customers WHERE ssn = '123-45-6789'" });
    rec.hooks.ended!(s, "terminated");
    onEvent("approval_expired", approval);

    const records = readFileSync(join(dir, recordingFiles(dir)[0]!), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r["type"], r["kind"] ?? null])).toEqual([
      ["start", null],
      ["statement", null],
      ["approval", "approval_requested"],
      ["approval", "approval_approved"],
      ["budget_cut", "budget_cut"],
      ["session_killed", "session_killed"],
      ["end", null],
    ]);
    expect(records[3]).toMatchObject({ actor: "lead-1", reason: "ok, ticket 42", decision_id: d.decision_id, approval_id: approval.id });
    expect(records[5]).toMatchObject({ actor: "oncall", reason: "runaway agent" });
    expect(String(records[5]!["subject"])).not.toContain("123-45-6789");
    const late = journal(dir).find((r) => r["type"] === "event")!;
    expect(late).toMatchObject({ kind: "approval_expired", session: s.id, approval_id: approval.id });
    expect(verifyDir(dir).ok).toBe(true);
    rec.close();
  });
});
