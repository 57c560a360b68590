import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findRecording, formatTimeline, printableJson, type ChainRecord } from "../recording/index.js";
import { auditRead, recordingDir } from "./recordings.js";

/**
 * `regate recordings replay <session> --follow`: the timeline so far, then each record as regate appends
 * it, until the session's `end` record (or Ctrl-C, or `signal`). Only whole lines are printed: a line
 * being written is read once its newline is there.
 */
export async function followCommand(argv: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { dir: { type: "string", short: "d" }, config: { type: "string", short: "c" }, json: { type: "boolean" }, follow: { type: "boolean" }, "interval-ms": { type: "string" } },
    });
  } catch (err) {
    process.stderr.write(`regate recordings replay --follow: ${(err as Error).message}\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  const session = positionals[1];
  const dir = recordingDir(values, env);
  if (dir === undefined) return 1;
  if (!session || !existsSync(dir)) {
    process.stderr.write(session ? `regate recordings: no recording directory at ${dir}\n` : "regate recordings replay --follow: name a session\n");
    return 1;
  }
  const file = findRecording(dir, session);
  if (!file) {
    process.stderr.write(`regate recordings replay: no recording of session ${session} in ${dir}\n`);
    return 1;
  }
  auditRead(dir, "follow", session, file);
  const interval = Math.max(20, Number(values["interval-ms"] ?? 250) || 250);
  const path = join(dir, file);
  let offset = 0;
  let rest = "";
  const print = (records: ChainRecord[]) => {
    if (!records.length) return;
    process.stdout.write(values.json ? records.map((r) => `${printableJson(JSON.stringify(r))}\n`).join("") : formatTimeline(records));
  };
  // Reads what was appended since the last call; true once the `end` record has been printed.
  const step = (): boolean => {
    const size = statSync(path).size;
    if (size < offset) throw new Error(`${file} became shorter while followed (truncated?); run regate recordings verify`);
    if (size === offset) return false;
    const buf = Buffer.alloc(size - offset);
    const fd = openSync(path, "r");
    try {
      readSync(fd, buf, 0, buf.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const text = rest + buf.toString("utf8");
    const nl = text.lastIndexOf("\n");
    rest = text.slice(nl + 1);
    const records = text
      .slice(0, nl + 1)
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ChainRecord);
    print(records);
    return records.some((r) => r.type === "end");
  };
  try {
    while (!step()) {
      if (signal?.aborted) return 0;
      await new Promise((r) => setTimeout(r, interval));
    }
  } catch (err) {
    process.stderr.write(`regate recordings replay --follow: ${(err as Error).message}\n`);
    return 2;
  }
  return 0;
}
