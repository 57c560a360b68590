// The decision log is the audit trail: log.level quiets regate's own lines, never the decision lines.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { startApp } from "../src/app.js";
import { flushLogBatches } from "../src/audit/index.js";
import { loadConfig } from "../src/config/index.js";
import type { PolicyInput } from "../src/decision/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { BUNDLE } from "./support/regate.js";

const cases = (JSON.parse(readFileSync(join(packageRoot, "testdata/golden/opa/cases.json"), "utf8")) as { golden_cases: { name: string; input: PolicyInput }[] }).golden_cases;

describe("log.level: warn", () => {
  it("still writes a decision-log line for every decision, and none of regate's info lines", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        cb();
      },
    });
    const config = loadConfig({
      text: stringify({ policy: { bundle: BUNDLE, watch_interval_ms: 0 }, log: { level: "warn" }, postgres: { enabled: false }, http: { enabled: false }, admin: { enabled: false } }),
      env: {},
    });
    const app = await startApp({ config, log: createLogger({ level: config.log.level, destination }) });
    try {
      const input = cases.find((c) => c.name === "pg-read-orders")!.input;
      app.pipeline.decide(input);
      app.pipeline.decide(input);
      flushLogBatches();
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(parsed.filter((l) => l["msg"] === "Decision Log")).toHaveLength(2);
      // "policy bundle loaded" is an info line: quieted.
      expect(parsed.filter((l) => l["msg"] !== "Decision Log" && l["level"] === "info")).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
