import type { SessionInput } from "../decision/index.js";

// A recording directory: one `<started>_<session>.jsonl` per session and `journal.jsonl`, the chained
// list of files opened, closed (with their last hash and record count) and deleted by retention.

export const JOURNAL = "journal.jsonl";

export function recordingFileName(session: Pick<SessionInput, "id" | "started_at">): string {
  const when = session.started_at.replace(/[^0-9TZ]/g, "");
  return `${when}_${session.id.replace(/[^A-Za-z0-9_-]/g, "_")}.jsonl`;
}

/**
 * A name `recordingFileName` can give, or the journal's: what a reader may write when it copies a directory
 * from elsewhere (the fleet store). Anything else, `..` above all, is not a recording and never becomes a path.
 */
export function isWrittenName(name: string): boolean {
  return name === JOURNAL || /^[0-9TZ]*_[A-Za-z0-9_-]+\.jsonl$/.test(name);
}

export function isRecordingFile(name: string): boolean {
  return name.endsWith(".jsonl") && name !== JOURNAL;
}

/** The reason of a decision refused because its record could not be written. */
export const UNAVAILABLE = "the session recording cannot be written; statements are refused until it can";
/** The refusal while too many records wait for the fleet store (recording.postgres.on_backlog: refuse). */
export const STORE_BEHIND = "session recordings are not reaching the recording store; statements are refused until they do";
