import { readdirSync, readFileSync, statSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import type { ChainRecord } from "./chain.js";
import { isRecordingFile, JOURNAL } from "./layout.js";
import { checkSignature, type Checkpoint, type JournalPosition } from "./sign.js";
import { checkChain } from "./verify.js";

export interface JournalEntry {
  file: string;
  session: string;
  opened: boolean;
  /** Periodic checkpoints: the file had `records` records, the last of which hashed to `head`. */
  checkpoints: { records: number; head: string; line: number }[];
  closed?: { records: number; head: string };
  deleted?: { records: number; head: string; reason: string; ts: string };
}

export interface JournalState {
  ok: boolean;
  problem?: { line: number; message: string };
  records: number;
  files: Map<string, JournalEntry>;
  /** Journal records that must carry a valid signature (`checkpoint`, `closed`, `deleted`), with their line. */
  checkpoints: { line: number; checkpoint: Checkpoint; at: JournalPosition; sig: unknown }[];
}

export function readJournal(dir: string): JournalState {
  let text: Buffer | string = "";
  try {
    text = readFileSync(join(dir, JOURNAL));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const check = checkChain(text);
  const files = new Map<string, JournalEntry>();
  const checkpoints: JournalState["checkpoints"] = [];
  for (const [i, r] of check.records.entries()) {
    if (r.type === "checkpoint" || r.type === "closed" || r.type === "deleted") {
      const checkpoint: Checkpoint = { type: r.type, session: String(r["session"]), file: String(r["file"]), records: Number(r["records"]), head: String(r["head"]) };
      checkpoints.push({ line: i + 1, checkpoint, at: { seq: r.seq, prev: r.prev }, sig: r["sig"] });
    }
    const file = String(r["file"] ?? "");
    if (!file) continue;
    const e = files.get(file) ?? { file, session: String(r["session"] ?? ""), opened: false, checkpoints: [] };
    if (r.type === "opened") e.opened = true;
    if (r.type === "checkpoint") e.checkpoints.push({ records: Number(r["records"]), head: String(r["head"]), line: i + 1 });
    if (r.type === "closed") e.closed = { records: Number(r["records"]), head: String(r["head"]) };
    if (r.type === "deleted") e.deleted = { records: Number(r["records"]), head: String(r["head"]), reason: String(r["reason"]), ts: r.ts };
    files.set(file, e);
  }
  return { ok: check.ok, ...(check.problem ? { problem: check.problem } : {}), records: check.records.length, files, checkpoints };
}

export interface RecordingSummary {
  file: string;
  session: string;
  principal?: string;
  application_name?: string;
  client?: string;
  protocol?: string;
  started_at?: string;
  ended_at?: string;
  end_reason?: string;
  statements: number;
  refused: number;
  rows: number;
  bytes: number;
  size: number;
}

export function recordingFiles(dir: string): string[] {
  return readdirSync(dir).filter(isRecordingFile).sort();
}

/** The records of one file, without checking them (verify does). */
export function readRecords(path: string): ChainRecord[] {
  const out: ChainRecord[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as ChainRecord);
    } catch {
      // a cut-off or edited line: verify names it
    }
  }
  return out;
}

export function summarize(dir: string, file: string): RecordingSummary {
  const path = join(dir, file);
  const records = readRecords(path);
  const start = records.find((r) => r.type === "start");
  const end = records.find((r) => r.type === "end");
  const statements = records.filter((r) => r.type === "statement" || r.type === "request");
  const results = records.filter((r) => r.type === "result");
  const principal = start?.["principal"] as { subject?: string } | undefined;
  const client = start?.["client"] as { address?: string; port?: number } | undefined;
  return {
    file,
    session: String(start?.["session"] ?? records[0]?.["session"] ?? file),
    ...(principal?.subject ? { principal: principal.subject } : {}),
    ...(start?.["application_name"] ? { application_name: String(start["application_name"]) } : {}),
    ...(client?.address ? { client: `${client.address}:${client.port}` } : {}),
    ...(start?.["protocol"] ? { protocol: String(start["protocol"]) } : {}),
    ...(start ? { started_at: String(start["started_at"] ?? start.ts) } : {}),
    ...(end ? { ended_at: end.ts, end_reason: String(end["reason"]) } : {}),
    statements: statements.length,
    refused: statements.filter((r) => (r["decision"] as { outcome?: string } | undefined)?.outcome !== "allow").length,
    rows: results.reduce((n, r) => n + Number(r["rows"] ?? 0), 0),
    bytes: results.reduce((n, r) => n + Number(r["bytes"] ?? 0), 0),
    size: statSync(path).size,
  };
}

/** The file holding `session` (a session id, a unique prefix of one, or a file name). */
export function findRecording(dir: string, session: string): string | undefined {
  const files = recordingFiles(dir);
  const exact = files.find((f) => f === session || f.endsWith(`_${session}.jsonl`));
  if (exact) return exact;
  const prefix = files.filter((f) => (f.split("_").slice(1).join("_") || f).startsWith(session));
  return prefix.length === 1 ? prefix[0] : undefined;
}

export interface VerifyProblem {
  file: string;
  line?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  files: number;
  records: number;
  /** Sessions whose file has no end record and no `closed` journal entry: live, or cut off by a crash. */
  open: string[];
  problems: VerifyProblem[];
}

/**
 * Every recording's chain, and the journal against the directory: a closed file must end with `end`, have
 * the journal's record count and last hash (so a cut or an edited last record shows), and a file the
 * journal knows must exist unless the journal says retention deleted it.
 */
export function verifyDir(dir: string, only?: string, key?: KeyObject): VerifyReport {
  const journal = readJournal(dir);
  const problems: VerifyProblem[] = [];
  const open: string[] = [];
  if (!journal.ok) problems.push({ file: JOURNAL, line: journal.problem!.line, message: journal.problem!.message });
  if (key) {
    for (const c of journal.checkpoints) {
      if (only && c.checkpoint.file !== only) continue;
      if (!checkSignature(key, c.checkpoint, c.at, c.sig)) {
        problems.push({ file: JOURNAL, line: c.line, message: `${c.checkpoint.type} record of ${c.checkpoint.file} ${c.sig === undefined ? "is not signed" : "has a bad signature"} (with this public key)` });
      }
    }
  }
  let records = journal.records;
  const files = recordingFiles(dir).filter((f) => !only || f === only);
  const present = new Set(files);
  for (const file of files) {
    const check = checkChain(readFileSync(join(dir, file)));
    records += check.records.length;
    if (!check.ok) {
      problems.push({ file, line: check.problem!.line, message: check.problem!.message });
      continue;
    }
    const entry = journal.files.get(file);
    const first = check.records[0];
    const last = check.records.at(-1);
    if (!first || first.type !== "start") problems.push({ file, line: 1, message: "does not begin with a start record" });
    if (!entry?.opened) problems.push({ file, message: "not in the journal (a file added, or the journal cut)" });
    for (const cp of entry?.checkpoints ?? []) {
      const p = checkpointProblem(cp, check.records, check.head);
      if (p) problems.push({ file, line: p.line, message: p.message });
    }
    if (entry?.deleted) problems.push({ file, message: "the journal says retention deleted this file, yet it is here" });
    if (entry?.closed) {
      if (last?.type !== "end") problems.push({ file, line: check.records.length + 1, message: `records removed from the end: the journal closed it after ${entry.closed.records} records, the file has ${check.records.length}` });
      else if (entry.closed.records !== check.records.length) problems.push({ file, line: Math.min(entry.closed.records, check.records.length) + 1, message: `the journal closed it after ${entry.closed.records} records, the file has ${check.records.length}` });
      else if (entry.closed.head !== check.head) problems.push({ file, line: check.records.length, message: "the last record differs from the one the journal closed the file with (edited)" });
    } else if (last?.type === "end") {
      problems.push({ file, message: "ended, but the journal never closed it (the journal was cut)" });
    } else open.push(file);
  }
  if (!only) {
    for (const e of journal.files.values()) {
      if (!present.has(e.file) && !e.deleted) problems.push({ file: e.file, message: "in the journal but missing from the directory, and not deleted by retention" });
    }
  }
  return { ok: problems.length === 0, files: files.length, records, open, problems };
}

/**
 * A periodic checkpoint against the file: it must still have the records the checkpoint counted, and the
 * record at that position must hash to the checkpoint's head (the next record's `prev`, or the file's head).
 * This is what catches a live session's file cut after a checkpoint, before any `closed` entry exists.
 */
function checkpointProblem(cp: { records: number; head: string; line: number }, records: readonly ChainRecord[], head: string): { line: number; message: string } | undefined {
  if (records.length < cp.records) {
    return { line: records.length + 1, message: `records removed from the end: the journal checkpointed it at ${cp.records} records (journal record ${cp.line}), the file has ${records.length}` };
  }
  const at = cp.records === records.length ? head : String(records[cp.records]!.prev);
  if (at !== cp.head) return { line: cp.records, message: `record ${cp.records} differs from the one the journal checkpointed (journal record ${cp.line})` };
  return undefined;
}
