import type { KeyObject } from "node:crypto";
import type { Logger } from "../log.js";
import type { PgRecordingStore } from "./pg-store.js";

export interface RecorderOptions {
  dir: string;
  log: Logger;
  version: string;
  /** Key of the `hash` mask strategy, so detector masks in recordings match the client's. */
  maskKey?: Buffer;
  /** Ed25519 private key signing `checkpoint`, `closed` and `deleted` journal records. */
  signingKey?: KeyObject;
  /**
   * Secrets regate holds: replaced wherever an agent typed them (scrub.ts). A function when some follow
   * their files (agent tokens, the upstream password): read again as records are written (recorder.ts).
   */
  secrets?: readonly string[] | (() => readonly string[]);
  /** A signed `checkpoint` journal record every this many records of a session (0: none). */
  checkpointRecords?: number;
  /** ... and at least this often while a session has new records (0: none). */
  checkpointSeconds?: number;
  /** The first this many rows of each Postgres result go into its `result` record (0: none). */
  rows?: number;
  /** The fleet store every record is copied to once it is in its local file (pg-store.ts). */
  store?: PgRecordingStore;
}

export type Protocol = "postgres" | "http";

/** A point in a session's hash chain (see Recorder.link). */
export interface RecordingLink {
  file: string;
  seq: number;
  sha256: string;
}
