// Group commit (issue 12): a result record waits for the session's next statement record and both reach the
// file in one write, in chain order; a statement record is never deferred. The failures are real writes
// failing part way (writeSync throws after writing some of the bytes, as a disk filling up does): the file
// is cut back, the chain in memory falls back to what is on disk, statements are refused, and what is on
// disk verifies.
import * as realFs from "node:fs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Decision, SessionInput } from "../../src/decision/index.js";
import { createLogger } from "../../src/log.js";
import { newStatement } from "../../src/postgres/lifecycle/statement.js";
import { DEFER_MS } from "../../src/recording/recorder.js";
import { Recorder, recordingFiles, verifyDir } from "../../src/recording/index.js";

// Counts writes to recording files and fails the next ones on demand, after writing part of the bytes.
const io = vi.hoisted(() => ({ writes: 0, fail: 0 }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof realFs>();
  const writeSync = (fd: number, buf: Buffer, off: number, len: number, pos: number): number => {
    io.writes++;
    if (io.fail > 0) {
      io.fail--;
      if (len > 1) fs.writeSync(fd, buf, off, Math.floor(len / 2), pos);
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
    return fs.writeSync(fd, buf, off, len, pos);
  };
  return { ...fs, writeSync, default: { ...fs, writeSync } };
});

const log = createLogger({ level: "fatal" });
const dirs: string[] = [];
beforeEach(() => {
  io.writes = 0;
  io.fail = 0;
});
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(checkpointRecords = 0): { dir: string; rec: Recorder; s: SessionInput } {
  const dir = mkdtempSync(join(tmpdir(), "regate-gc-"));
  dirs.push(dir);
  const rec = new Recorder({ dir, log, version: "1", checkpointRecords });
  const s: SessionInput = {
    id: `gc-${Date.now()}-${Math.random()}`,
    principal: { subject: "agent-a", groups: ["agents"], claims: {}, auth_method: "scram-sha-256" },
    client: { address: "127.0.0.1", port: 5000 },
    target: "db",
    started_at: new Date().toISOString(),
    application_name: "unit",
  };
  return { dir, rec, s };
}

const allow = (): Decision => ({ decision_id: `d-${Math.random()}`, outcome: "allow", reasons: [], mask: [], dry_run: false, revision: "rev1" });

/** One statement through the hooks as a session drives them: admitted (recorded at once), then completed. */
function statement(rec: Recorder, s: SessionInput, i: number): ReturnType<NonNullable<Recorder["hooks"]["admit"]>> {
  const st = newStatement(i, "query", `SELECT ${i}`);
  const veto = rec.hooks.admit!(s, st, allow());
  if (veto) return veto;
  st.result = { command_tags: ["SELECT 1"], rows: 1, bytes: 10, masked_values: 0, duration_ms: 0.5 };
  st.completed = true;
  rec.hooks.completed!(s, st);
  return undefined;
}

const types = (dir: string): string[] =>
  readFileSync(join(dir, recordingFiles(dir)[0]!), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { type: string }).type);

describe("group commit of session records", () => {
  it("a result waits for the next statement record and shares its write; one write per statement, chain order kept", () => {
    const { dir, rec, s } = setup();
    expect(statement(rec, s, 1)).toBeUndefined();
    // The statement record is on disk before the statement runs; its result is still pending.
    expect(types(dir)).toEqual(["start", "statement"]);
    const before = io.writes;
    for (let i = 2; i <= 11; i++) expect(statement(rec, s, i)).toBeUndefined();
    expect(io.writes - before).toBe(10);
    expect(types(dir)).toEqual(["start", "statement", ...Array.from({ length: 10 }, () => ["result", "statement"]).flat()]);
    rec.hooks.ended!(s, "client");
    // The end record flushes first: the last result is before it.
    expect(types(dir).slice(-3)).toEqual(["statement", "result", "end"]);
    rec.close();
    expect(verifyDir(dir)).toMatchObject({ ok: true, problems: [] });
  });

  it("a pending result reaches the file on its own within DEFER_MS when no statement follows", async () => {
    const { dir, rec, s } = setup();
    statement(rec, s, 1);
    expect(types(dir)).toEqual(["start", "statement"]);
    await new Promise((r) => setTimeout(r, DEFER_MS * 3 + 20));
    expect(types(dir)).toEqual(["start", "statement", "result"]);
    expect(rec.link(s.id)!.seq).toBe(3);
    rec.close();
  });

  it("a failed deferred write (half written) falls back to the chain on disk, refuses statements, and the file verifies", async () => {
    const { dir, rec, s } = setup();
    statement(rec, s, 1);
    const onDisk = rec.link(s.id)!;
    expect(onDisk.seq).toBe(3); // start, statement, its pending result
    io.fail = 1;
    await new Promise((r) => setTimeout(r, DEFER_MS * 3 + 20));
    // The half-written result was cut off; the chain continues from the statement record.
    expect(types(dir)).toEqual(["start", "statement"]);
    expect(rec.link(s.id)!.seq).toBe(2);
    expect(rec.failing).toBe(true);
    expect(rec.admit()).toMatchObject({ code: "RECORDING_UNAVAILABLE" });
    expect(verifyDir(dir)).toMatchObject({ ok: true });
    // Space again: the next record builds on what is on disk, and a real write ends failing mode.
    rec.hooks.decided!(s, newStatement(2, "query", "SELECT 2"), { ...allow(), outcome: "deny", reasons: ["recording unavailable"] });
    expect(rec.failing).toBe(false);
    rec.hooks.ended!(s, "client");
    rec.close();
    expect(types(dir)).toEqual(["start", "statement", "statement", "end"]);
    expect(verifyDir(dir)).toMatchObject({ ok: true, problems: [] });
  });

  it("a statement record whose write (with the pending result) fails is refused; neither is left half on disk", () => {
    const { dir, rec, s } = setup();
    statement(rec, s, 1);
    io.fail = 1;
    expect(statement(rec, s, 2)).toMatchObject({ error_code: "RECORDING_UNAVAILABLE" });
    expect(types(dir)).toEqual(["start", "statement"]);
    expect(rec.failing).toBe(true);
    expect(verifyDir(dir)).toMatchObject({ ok: true });
    expect(statement(rec, s, 3)).toBeUndefined();
    expect(rec.failing).toBe(false);
    rec.hooks.ended!(s, "client");
    rec.close();
    expect(types(dir)).toEqual(["start", "statement", "statement", "result", "end"]);
    expect(verifyDir(dir)).toMatchObject({ ok: true, problems: [] });
  });

  it("a checkpoint flushes the session first: it never vouches for a record not on disk", () => {
    const { dir, rec, s } = setup(3);
    statement(rec, s, 1); // start, statement, result: the third record asks for a checkpoint
    expect(types(dir)).toEqual(["start", "statement", "result"]);
    expect(rec.written.checkpoints).toBe(1);
    rec.close();
    expect(verifyDir(dir)).toMatchObject({ ok: true, problems: [] });
  });
});
