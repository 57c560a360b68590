import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Config, UpstreamConfig } from "../config/index.js";
import type { Logger } from "../log.js";
import { JOURNAL } from "./layout.js";
import { PgRecordingStore } from "./pg-store.js";
import { recordingFiles } from "./read.js";

/** Where the fleet store is: recording.postgres's connection fields, the rest from postgres.upstream. */
export function storeUpstream(config: Config): UpstreamConfig {
  const { host, port, database, user, password, sslmode, ca_file } = config.recording.postgres;
  const up: UpstreamConfig = { ...config.postgres.upstream };
  if (host !== undefined) up.host = host;
  if (port !== undefined) up.port = port;
  if (database !== undefined) up.database = database;
  if (sslmode !== undefined) up.sslmode = sslmode;
  if (ca_file !== undefined) up.ca_file = ca_file;
  // Another role: the upstream's password is not its password.
  if (user !== undefined && user !== up.user) {
    up.user = user;
    delete up.password;
  }
  if (password !== undefined) up.password = password;
  return up;
}

/** The store when recording.postgres is enabled, its tables created; throws when it cannot be reached. */
export async function recordingStore(config: Config, log: Logger): Promise<PgRecordingStore | undefined> {
  const c = config.recording.postgres;
  if (!c.enabled) return undefined;
  const store = new PgRecordingStore({
    upstream: storeUpstream(config),
    schema: c.schema,
    replica: c.replica ?? hostname(),
    queueMaxBytes: c.queue_max_bytes,
    batchMaxRecords: c.batch_max_records,
    onBacklog: c.on_backlog,
    log,
  });
  await store.start();
  return store;
}

/**
 * Queues what the local directory holds and the store does not (records written before a crash or while
 * the store was not configured), so a replica that restarts on the same disk loses nothing in the store.
 */
export async function catchUp(store: PgRecordingStore, dir: string): Promise<number> {
  const stored = await store.storedSeqs();
  let queued = 0;
  for (const name of [JOURNAL, ...recordingFiles(dir)]) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      continue;
    }
    const have = stored.get(name) ?? 0;
    const lines = text.split("\n");
    lines.pop(); // after the last newline: empty, or a line still being written
    if (lines.length <= have) continue;
    store.backfill(name, have + 1, lines.slice(have));
    queued += lines.length - have;
  }
  return queued;
}
