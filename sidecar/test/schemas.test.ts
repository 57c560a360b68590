import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { packageRoot, schemaPath } from "../src/paths.js";
import { CASES_FILE, type GoldenCase } from "./support/golden.js";
import { composeInputSchema, inputSchemaText } from "./support/input-schema.js";

describe("input schema", () => {
  it("the committed input.schema.json is the composition of its parts (regenerate: npx tsx scripts/input-schema.ts)", () => {
    expect(readFileSync(schemaPath("input.schema.json"), "utf8")).toBe(inputSchemaText());
  });

  it("every golden input validates against it", () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(composeInputSchema());
    const { golden_cases } = JSON.parse(readFileSync(CASES_FILE, "utf8")) as { golden_cases: GoldenCase[] };
    for (const c of golden_cases) {
      expect(validate(c.input), `${c.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it("gives opa check teeth: a misspelt input field fails the policy build", () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-schema-"));
    writeFileSync(join(dir, "p.rego"), "package regate\nbad if input.postgres.statments[_].kind == \"select\"\n");
    let out = "";
    try {
      execFileSync(join(packageRoot, ".bin/opa"), ["check", "--strict", "-s", schemaPath("input.schema.json"), dir], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      out = String((e as { stdout: string }).stdout) + String((e as { stderr: string }).stderr);
    }
    expect(out).toMatch(/undefined ref: input\.postgres\.statments/);
  });
});
