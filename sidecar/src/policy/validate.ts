import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { PolicyDecision } from "../decision/types.js";
import { RegateError } from "../errors.js";
import { schemaPath } from "../paths.js";

const ajv = new Ajv({ allErrors: false, strict: true });
const check = ajv.compile<PolicyDecision>(JSON.parse(readFileSync(schemaPath("decision.schema.json"), "utf8")));

/** Strict: undefined or anything off-schema is an error, which the pipeline turns into a deny. */
export function validateDecision(value: unknown): PolicyDecision {
  if (value === undefined) throw new RegateError("POLICY_UNDEFINED");
  if (!check(value)) {
    const e = check.errors?.[0];
    throw new RegateError("POLICY_RESULT_INVALID", `policy decision ${e?.instancePath || "/"} ${e?.message ?? "is invalid"}`);
  }
  return value;
}
