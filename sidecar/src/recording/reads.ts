import { appendFileSync } from "node:fs";
import { join } from "node:path";

// Reading a recording is itself audited: who read which session, when, and through what (the admin page
// or API, the CLI). regate's own log carries the admin reads; `reads.log` in the recording directory
// carries every read, the CLI's included, since an offline reader has no regate log to write to.

export const READS_LOG = "reads.log";

export interface RecordingRead {
  /** A responder or reviewer name (admin), or the operating-system user (CLI). */
  by: string;
  via: "admin" | "cli";
  /** What was read: `list`, `replay`, `show`, `follow`. */
  action: string;
  session?: string;
  file?: string;
}

/** Appends one JSON line to `reads.log`; throws when it cannot (the caller decides whether that stops the read). */
export function noteRead(dir: string, read: RecordingRead, now = new Date()): void {
  appendFileSync(join(dir, READS_LOG), `${JSON.stringify({ ts: now.toISOString(), ...read })}\n`, { mode: 0o600 });
}
