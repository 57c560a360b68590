import { statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { readJournal, recordingFiles } from "./read.js";
import type { Recorder } from "./recorder.js";

export interface RetentionLimits {
  max_age_seconds: number;
  max_total_bytes: number;
}

export interface RetentionResult {
  deleted: { file: string; reason: "max_age" | "max_total_bytes"; bytes: number }[];
  kept_bytes: number;
}

/**
 * Deletes ended recordings, oldest first (file names begin with the start time): those older than
 * `max_age_seconds`, then more while the directory holds over `max_total_bytes`. Each deletion is written
 * to the journal (its record count and last hash: a tombstone) before the file is removed, so a gap is
 * explained; if the journal cannot be written nothing is deleted. Live sessions are never deleted.
 */
export function applyRetention(recorder: Recorder, limits: RetentionLimits, now = Date.now()): RetentionResult {
  const dir = recorder.dir;
  const journal = readJournal(dir);
  const live = recorder.liveFiles();
  const files = recordingFiles(dir).map((file) => {
    const st = statSync(join(dir, file));
    return { file, bytes: st.size, mtime: st.mtimeMs };
  });
  let total = files.reduce((n, f) => n + f.bytes, 0);
  const deleted: RetentionResult["deleted"] = [];
  for (const f of files) {
    const entry = journal.files.get(f.file);
    if (!entry?.closed || live.has(join(dir, f.file))) continue;
    const old = limits.max_age_seconds > 0 && now - f.mtime > limits.max_age_seconds * 1000;
    const over = limits.max_total_bytes > 0 && total > limits.max_total_bytes;
    if (!old && !over) continue;
    const reason = old ? "max_age" : "max_total_bytes";
    recorder.checkpoint({ type: "deleted", session: entry.session, file: f.file, records: entry.closed.records, head: entry.closed.head }, { bytes: f.bytes, reason });
    unlinkSync(join(dir, f.file));
    total -= f.bytes;
    deleted.push({ file: f.file, reason, bytes: f.bytes });
  }
  return { deleted, kept_bytes: total };
}
