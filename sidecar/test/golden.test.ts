import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DecisionPipeline } from "../src/decision/index.js";
import { packageRoot } from "../src/paths.js";
import { PolicyStore } from "../src/policy/index.js";
import { buildGoldenCases, CASES_FILE, goldenFileText, sortedMasks, type GoldenCase } from "./support/golden.js";
import { BUNDLE } from "./support/regate.js";
import { regateArgv } from "./support/compiled-regate.js";

const committed = JSON.parse(readFileSync(CASES_FILE, "utf8")) as { golden_cases: GoldenCase[] };
let pipeline: DecisionPipeline;

beforeAll(async () => {
  const store = new PolicyStore(BUNDLE);
  await store.load();
  pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: "regate/decision", dryRun: false, sinks: [] });
});

describe("golden cases", () => {
  it("cases.json is what the adapters build today (regenerate: npx tsx scripts/golden.ts)", async () => {
    expect(goldenFileText(await buildGoldenCases())).toBe(readFileSync(CASES_FILE, "utf8"));
  });

  it.each(committed.golden_cases.map((c) => [c.name, c] as const))("%s decides as expected in the compiled WASM bundle", (_name, c) => {
    const d = pipeline.decide(c.input);
    expect(d.error_code).toBeUndefined();
    expect(d.outcome).toBe(c.expect.outcome);
    if (c.expect.reason && c.expect.outcome === "deny") expect(d.reasons).toContain(c.expect.reason);
    if (c.expect.masks !== undefined) expect(sortedMasks(d.mask)).toEqual(sortedMasks(c.expect.masks));
    if (c.expect.approve !== undefined) expect(d.approve).toMatchObject(c.expect.approve);
  });
});

describe("regate eval", () => {
  const cli = (input: string) => {
    try {
      return { code: 0, out: execFileSync(process.execPath, regateArgv("eval", "--input", input, "--bundle", BUNDLE), { cwd: packageRoot, encoding: "utf8" }) };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { code: err.status, out: err.stdout };
    }
  };

  it("prints the decision; the exit status tells allow (0), deny (2), approval required (3)", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "regate-eval-"));
    const pick = (name: string) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(committed.golden_cases.find((c) => c.name === name)));
      return file;
    };
    const allow = cli(pick("pg-read-orders"));
    expect(allow.code).toBe(0);
    expect(JSON.parse(allow.out).outcome).toBe("allow");
    const deny = cli(pick("pg-delete-without-where"));
    expect(deny.code).toBe(2);
    expect(JSON.parse(deny.out).reasons).toContain("DELETE without WHERE is not allowed");
    expect(cli(pick("pg-payments-write-needs-approval")).code).toBe(3);
  }, 60_000);
});
