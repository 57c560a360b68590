import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../paths.js";
import { flushLogBatches, LogBatch } from "./batch.js";

function recorder(): { batch: LogBatch<string>; writes: string[][] } {
  const writes: string[][] = [];
  return { batch: new LogBatch<string>((items) => writes.push(items)), writes };
}

describe("LogBatch", () => {
  it("writes what was pushed in one batch, in order, a few milliseconds later", async () => {
    const { batch, writes } = recorder();
    for (let i = 0; i < 30; i++) batch.push(`line ${i}\n`, 7);
    expect(writes).toHaveLength(0);
    expect(batch.bytes).toBe(210);
    await new Promise((r) => setTimeout(r, 30));
    expect(writes).toEqual([Array.from({ length: 30 }, (_, i) => `line ${i}\n`)]);
    expect(batch.bytes).toBe(0);
    batch.close();
  });

  it("writes at once when a quarter mebibyte waits", () => {
    const { batch, writes } = recorder();
    batch.push("a", 200 * 1024);
    expect(writes).toHaveLength(0);
    batch.push("b", 100 * 1024);
    expect(writes).toEqual([["a", "b"]]);
    batch.close();
  });

  it("is written by flushLogBatches until it is closed, and writes later items all the same", async () => {
    const { batch, writes } = recorder();
    batch.push("x", 1);
    flushLogBatches();
    expect(writes).toEqual([["x"]]);
    batch.close();
    batch.push("y", 1);
    flushLogBatches();
    expect(writes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(writes).toEqual([["x"], ["y"]]);
  });

  it("loses nothing when the process exits before the batch is due", () => {
    // Through pino's asynchronous destination on stdout, as regate writes: the batch was never handed to it.
    const script = `
      import { pino } from "pino";
      import { LogBatch } from "./sidecar/src/audit/batch.js";
      const log = pino({}, pino.destination({ dest: 1, sync: false }));
      const stream = log[pino.symbols.streamSym];
      const batch = new LogBatch((lines) => stream.write(lines.join("")));
      for (let i = 0; i < 50; i++) batch.push(JSON.stringify({ n: i }) + "\\n", 10);
      process.exit(0);
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] });
    const written = out.toString("utf8").split("\n").filter(Boolean);
    expect(written.map((l) => (JSON.parse(l) as { n: number }).n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
