import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";

/** One decision-log event and where it was read. */
export interface LoggedLine {
  event: Record<string, unknown>;
  /** "file:line" ("-:line" for stdin). */
  at: string;
}

export interface ReadStats {
  /** Lines that were not decision-log events: other log lines, blank lines, text around JSON. */
  skipped: number;
}

/**
 * Decision-log events from files (plain or gzip, told apart by the gzip magic bytes) or "-" for `stdin`, in
 * order. Any line that is not an OPA decision-log event is counted and skipped: a captured stdout holds
 * regate's other log lines too. Text before the first "{" (e.g. `kubectl logs --timestamps`) is ignored.
 */
export async function* readDecisionLogs(sources: string[], stats: ReadStats, stdin: Readable = process.stdin): AsyncGenerator<LoggedLine> {
  for (const source of sources) {
    const name = source === "-" ? "stdin" : source;
    let n = 0;
    try {
      const lines = createInterface({ input: await maybeGunzip(source === "-" ? stdin : createReadStream(source)), crlfDelay: Infinity });
      for await (const line of lines) {
        n++;
        const event = parseEvent(line);
        if (event) yield { event, at: `${source}:${n}` };
        else stats.skipped++;
      }
    } catch (cause) {
      throw new Error(`cannot read decision log ${name} (after line ${n}): ${(cause as Error).message}`, { cause });
    }
  }
}

/** The event of a decision-log line, or undefined for any other line. */
export function parseEvent(line: string): Record<string, unknown> | undefined {
  // Cheap test first: most lines of a busy log that are not decisions never reach JSON.parse.
  if (!line.includes("openpolicyagent.org/decision_logs")) return undefined;
  const start = line.indexOf("{");
  if (start === -1) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(start === 0 ? line : line.slice(start));
  } catch {
    return undefined;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
  const event = value as Record<string, unknown>;
  if (event["type"] !== "openpolicyagent.org/decision_logs") return undefined;
  return event;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Peeks at the first chunk; pipes through gunzip when it starts with the gzip magic bytes. */
async function maybeGunzip(stream: Readable): Promise<Readable> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const first = await it.next();
  if (first.done) return Readable.from([]);
  const head = typeof first.value === "string" ? Buffer.from(first.value) : first.value;
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield typeof r.value === "string" ? Buffer.from(r.value) : r.value;
  }
  const joined = Readable.from(rest(), { objectMode: false });
  if (head.length < 2 || head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) return joined;
  const gunzip = createGunzip();
  // A corrupt or truncated gzip file is an error of the reader (readline passes it on), not an empty log.
  pipeline(joined, gunzip, (err) => {
    if (err) gunzip.destroy(err);
  });
  return gunzip;
}
