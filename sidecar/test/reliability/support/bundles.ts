// Policy bundles for the reliability tests, built with the real, pinned opa CLI the way `make bundle` does.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../../src/paths.js";
import { ALLOW } from "../../policy/opa.js";

export const OPA = join(packageRoot, ".bin", "opa");
const CAPABILITIES = join(packageRoot, "testdata", "opa", "wasm-capabilities.json");

/**
 * The example policy (rego/) plus `extra` rego files in package regate, e.g. one more `writable(t)` body:
 * Rego merges incremental definitions, so everything else the example policy refuses stays refused.
 * `exampleToo: false` builds only the extra files (a policy of its own).
 */
export function buildBundle(revision: string, extra: Record<string, string>, exampleToo = true): string {
  const dir = mkdtempSync(join(tmpdir(), "regate-rel-bundle-"));
  const src = join(dir, "extra");
  mkdirSync(src);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(src, name), text);
  const out = join(dir, "bundle.tar.gz");
  const entrypoints = exampleToo ? ["-e", "regate/decision", "-e", "system/log/mask"] : ["-e", "regate/decision"];
  const roots = exampleToo ? [join(packageRoot, "rego"), src] : [src];
  execFileSync(OPA, ["build", "-t", "wasm", ...entrypoints, "--capabilities", CAPABILITIES, "--ignore", "*_test.rego", "-r", revision, "-o", out, ...roots], {
    stdio: "pipe",
    timeout: 120_000,
  });
  return out;
}

/** A bundle whose one policy allows everything, with no mask: for what a policy cannot stop (budgets, the wire). */
export function buildAllowAllBundle(revision: string): string {
  return buildBundle(revision, { "p.rego": ALLOW }, false);
}

/** The example policy, with public.soak_* writable (the write soak's own tables). */
export const SOAK_WRITABLE = `package regate

# The write soak's own tables (sidecar/test/reliability/soak.ts): writable, WHERE rules still apply.
writable(t) if {
	t.schema == "public"
	startswith(t.name, "soak_")
}
`;
