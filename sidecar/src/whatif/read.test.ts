import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseEvent, readDecisionLogs } from "./read.js";

const event = (id: string) => JSON.stringify({ level: "info", type: "openpolicyagent.org/decision_logs", decision_id: id, input: {}, msg: "Decision Log" });
const LOG = [
  '{"level":"info","msg":"postgres listener ready"}',
  event("d1"),
  "",
  "not json at all",
  `2026-11-30T01:00:00.000000000Z ${event("d2")}`,
  '{"type":"openpolicyagent.org/decision_logs", truncated',
  '["openpolicyagent.org/decision_logs"]',
  event("d3"),
].join("\n");

async function read(sources: string[], stdin?: Readable) {
  const stats = { skipped: 0 };
  const seen: string[] = [];
  for await (const l of readDecisionLogs(sources, stats, stdin)) seen.push(`${String(l.event["decision_id"])}@${l.at}`);
  return { seen, skipped: stats.skipped };
}

describe("readDecisionLogs", () => {
  const dir = mkdtempSync(join(tmpdir(), "regate-whatif-read-"));
  const plain = join(dir, "a.log");
  const gz = join(dir, "b.log.gz");
  writeFileSync(plain, LOG);
  writeFileSync(gz, gzipSync(LOG));

  it("keeps decision events of a plain file, skips the other lines, counts them", async () => {
    expect(await read([plain])).toEqual({ seen: [`d1@${plain}:2`, `d2@${plain}:5`, `d3@${plain}:8`], skipped: 5 });
  });

  it("reads gzip files and stdin, in the order given", async () => {
    const stdin = Readable.from([Buffer.from(gzipSync(event("s1")))]);
    const r = await read([gz, "-"], stdin);
    expect(r.seen).toEqual([`d1@${gz}:2`, `d2@${gz}:5`, `d3@${gz}:8`, "s1@-:1"]);
  });

  it("reads concatenated gzip members (rotated logs joined with cat)", async () => {
    const joined = join(dir, "c.log.gz");
    writeFileSync(joined, Buffer.concat([gzipSync(`${event("m1")}\n`), gzipSync(`${event("m2")}\n`)]));
    expect((await read([joined])).seen).toEqual([`m1@${joined}:1`, `m2@${joined}:2`]);
  });

  it("a corrupt gzip file or a missing file is an error, not an empty log", async () => {
    const bad = join(dir, "bad.gz");
    writeFileSync(bad, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from("garbage after the magic bytes")]));
    await expect(read([bad])).rejects.toThrow(`cannot read decision log ${bad} (after line 0): unknown compression method`);
    const truncated = join(dir, "truncated.gz");
    writeFileSync(truncated, gzipSync(LOG).subarray(0, 40));
    await expect(read([truncated])).rejects.toThrow(/^cannot read decision log .*truncated.gz \(after line \d\): unexpected end of file$/);
    await expect(read([join(dir, "missing.log")])).rejects.toThrow(/^cannot read decision log .*missing.log \(after line 0\): ENOENT/);
  });

  it("an empty file has no events", async () => {
    const empty = join(dir, "empty.log");
    writeFileSync(empty, "");
    expect(await read([empty])).toEqual({ seen: [], skipped: 0 });
  });
});

describe("parseEvent", () => {
  it.each([
    ['{"msg":"Decision Log"}', false],
    ['{"type":"openpolicyagent.org/decision_logs"}', true],
    ['{"type":"other","note":"openpolicyagent.org/decision_logs"}', false],
  ])("%s -> %s", (line, isEvent) => {
    expect(parseEvent(line) !== undefined).toBe(isEvent);
  });
});
