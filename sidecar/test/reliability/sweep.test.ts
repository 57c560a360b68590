// The secrets sweep must find what is there and refuse to pass on nothing: checked on planted files.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { protectedDemoValues, sweep } from "./sweep.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "regate-sweep-test-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const seed = readFileSync(join(packageRoot, "testdata", "demo", "seed.sql"), "utf8");

describe("secrets sweep", () => {
  it("reads the protected values of the demo seed: emails, phones, SSNs, cards, API key secrets, no NULLs", () => {
    const values = new Set(protectedDemoValues(seed));
    for (const v of ["paloma.zhou1@example.org", "+1-555-344-5514", "607-59-5353", "4292420479648924", "rk_live_cfbc1db6a2c9c7a4e34d9b6a170b3b98"]) expect(values.has(v), v).toBe(true);
    expect(values.has("Paloma Zhou")).toBe(false); // full_name is not masked
    expect(values.has("NULL")).toBe(false);
    expect(values.size).toBeGreaterThan(8000);
  });

  it("finds a configured secret and a protected value wherever they are, and nothing in clean output", () => {
    const root = tree({
      "a/secrets.json": JSON.stringify(["s3cr3t-upstream-pw"]),
      "a/stdout.log": '{"msg":"Decision Log","input":{"sql":"SELECT 1"}}\n{"url":"postgres://u:s3cr3t-upstream-pw@127.0.0.1/db"}\n',
      "a/regate.input.yaml": "password: {value: s3cr3t-upstream-pw}\n", // the test's own config: not regate's output
      "b/secrets.json": JSON.stringify(["other-token-123456"]),
      "b/recordings/x.jsonl": '{"sql":"SELECT * FROM customers WHERE ssn = \'607-59-5353\'"}\n',
      "c/secrets.json": JSON.stringify(["clean-secret-999999"]),
      "c/stdout.log": '{"msg":"session started"}\n',
    });
    const r = sweep(root, protectedDemoValues(seed));
    expect(r.hits.map((h) => h.file).sort()).toEqual(["a/stdout.log", "b/recordings/x.jsonl"]);
    expect(r.hits.map((h) => h.what).join(" ")).not.toContain("s3cr3t-upstream-pw"); // the report does not leak either
    expect(r.manifests).toBe(3);
    expect(r.secrets).toBe(3);
  });

  it("fails when there is nothing to search", () => {
    expect(() => sweep(tree({}), protectedDemoValues(seed))).toThrow(/nothing to search/);
    expect(() => sweep(tree({ "a/stdout.log": "x" }), protectedDemoValues(seed))).toThrow(/no secrets\.json/);
    expect(() => sweep(join(tmpdir(), "regate-sweep-missing-dir"), ["abcdefg"])).toThrow(/did the suite run/);
  });
});
