// The example policy with temporary DDL allowed and pg_temp readable and writable, built with the real opa CLI:
// the policy under which the temporary-relation red teams run (a policy that lets analysis agents make scratch tables).
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

const OPA = join(packageRoot, ".bin", "opa");
const CAPABILITIES = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");

/** Edits of the example policy: temporary DDL allowed, pg_temp readable and writable with any value stored. */
const EDITS: [string, string][] = [
  [`readable_schemas := {"public", "pg_catalog", "information_schema"}`, `readable_schemas := {"public", "pg_catalog", "information_schema", "pg_temp"}`],
  [`\t"ddl": "DDL is not allowed",\n`, ""],
  [`deny contains "a write may not store masked columns of other tables: their values would be kept where they are not masked" if {\n\tsome s in statements\n\ts.writes\n`,
    `deny contains "a write may not store masked columns of other tables: their values would be kept where they are not masked" if {\n\tsome s in statements\n\ts.writes\n\tnot temporary_only(s)\n`],
];
const TEMPORARY_RULES = `
# Analysis agents may make temporary relations and store anything in them.
deny contains "DDL is not allowed" if {
	some s in statements
	s.kind == "ddl"
	not temporary_only(s)
}

temporary_only(s) if {
	count([t | some t in s.tables; t.access == "write"]) > 0
	every t in s.tables { read_or_temporary(t) }
}

read_or_temporary(t) if t.access == "read"

read_or_temporary(t) if t.schema == "pg_temp"

writable_table(t) if t.schema == "pg_temp"
`;

export function temporaryPolicyBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-temp-policy-"));
  const root = join(dir, "rego");
  cpSync(join(packageRoot, "rego"), root, { recursive: true });
  const file = join(root, "regate", "postgres.rego");
  let text = readFileSync(file, "utf8");
  for (const [from, to] of EDITS) {
    if (!text.includes(from)) throw new Error(`the example policy changed: ${from.slice(0, 60)}`);
    text = text.replace(from, to);
  }
  writeFileSync(file, text + TEMPORARY_RULES);
  const out = join(dir, "bundle.tar.gz");
  execFileSync(OPA, ["build", "-t", "wasm", "-e", "regate/decision", "-e", "system/log/mask", "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", "temporary-policy", "-o", out, root], {
    stdio: "pipe",
    timeout: 120_000,
  });
  return out;
}
