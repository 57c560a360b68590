import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { UpstreamConfig } from "../config/index.js";
import { SerialConnection } from "../postgres/serial-connection.js";
import { literal } from "../postgres/simple-query.js";
import { isWrittenName, JOURNAL } from "./layout.js";

export interface PullOptions {
  upstream: UpstreamConfig;
  schema: string;
  /** Directory that receives one subdirectory per replica, each laid out as that replica's recording directory. */
  to: string;
  replica?: string;
  /** Only this session's recording (by id or the start of one), with its replica's journal. */
  session?: string;
  /** Who reads: noted in the store's recording_reads table before anything is fetched. */
  reader: string;
}

export interface Pulled {
  replica: string;
  files: number;
  records: number;
}

/**
 * Fetches recordings from the fleet store into local directories, byte for byte as each replica wrote
 * them, so `regate recordings list|replay|verify --dir` work on them unchanged (and verify proves the store
 * was not altered). The read is noted in the store first: if that fails nothing is fetched.
 */
export async function pullRecordings(o: PullOptions): Promise<Pulled[]> {
  const db = new SerialConnection(o.upstream, "regate-recordings-pull", "recording store");
  try {
    const t = `${o.schema}.recording_records`;
    const what = `pull${o.replica ? ` replica=${o.replica}` : ""}${o.session ? ` session=${o.session}` : ""}`;
    await db.query(`INSERT INTO ${o.schema}.recording_reads (reader, what) VALUES (${literal(o.reader)}, ${literal(what)})`);
    const where = [o.replica ? `replica = ${literal(o.replica)}` : "true"];
    // Recording files are named <start time>_<session id>.jsonl (layout.ts): a session matches on the part after "_".
    if (o.session) where.push(`(file = ${literal(JOURNAL)} OR substr(file, strpos(file, '_') + 1) LIKE ${literal(`${o.session.replace(/[\\%_]/g, "\\$&")}%`)})`);
    const files = await db.query(`SELECT replica, file FROM ${t} WHERE ${where.join(" AND ")} GROUP BY replica, file ORDER BY replica, file`);
    const pulled = new Map<string, Pulled>();
    for (const [replica, file] of files) {
      // Every replica writes the store with its credentials: a name there is untrusted. A replica name becomes a
      // directory under --to ("." and ".." would be --to itself or its parent), a file name one regate writes.
      if (!replica || !file || !/^[A-Za-z0-9._-]+$/.test(replica) || replica === "." || replica === ".." || !isWrittenName(file)) {
        throw new Error(`the store holds a file name regate never writes: ${JSON.stringify([replica, file])}`);
      }
      const dir = join(o.to, replica);
      const path = join(dir, file);
      const lines = await db.query(`SELECT line FROM ${t} WHERE replica = ${literal(replica)} AND file = ${literal(file)} ORDER BY seq`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(path, lines.map(([l]) => `${l}\n`).join(""), { mode: 0o600 });
      const p = pulled.get(replica) ?? { replica, files: 0, records: 0 };
      if (file !== JOURNAL) p.files++;
      p.records += lines.length;
      pulled.set(replica, p);
    }
    return [...pulled.values()];
  } finally {
    await db.close();
  }
}
