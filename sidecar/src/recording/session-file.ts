import { unlinkSync } from "node:fs";
import { join } from "node:path";
import type { SessionInput } from "../decision/index.js";
import { ChainFile } from "./chain-file.js";

/** A session's `start` record: who, from where, to what, under which regate and bundle. */
export function startRecord(session: SessionInput, protocol: string, version: string, revision: string | undefined): Record<string, unknown> {
  return {
    session: session.id,
    started_at: session.started_at,
    principal: { subject: session.principal.subject, groups: session.principal.groups, auth_method: session.principal.auth_method },
    client: session.client,
    target: session.target,
    application_name: session.application_name,
    protocol,
    regate_version: version,
    bundle_revision: revision,
    pid: process.pid,
  };
}

/**
 * A new session file in `dir` holding its `start` record, entered in the journal. `prepare` runs on the
 * file before its first record (the fleet-store copy hooks in there). Without its start record or its
 * journal entry the file is no recording: it is removed again, since left behind it would make the next
 * attempt for this session fail with EEXIST for good, even once the disk has room again.
 */
export function createSessionFile(dir: string, name: string, journal: ChainFile, start: Record<string, unknown>, prepare: (file: ChainFile) => void): ChainFile {
  const file = ChainFile.create(join(dir, name));
  prepare(file);
  try {
    file.append("start", start);
    journal.append("opened", { session: start["session"], file: name });
  } catch (err) {
    file.close();
    try {
      unlinkSync(file.path);
    } catch {
      // Best effort: the write that failed is what gets reported.
    }
    throw err;
  }
  return file;
}
