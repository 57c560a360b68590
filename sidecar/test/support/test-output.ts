// Where tests keep what regate wrote (stdout, stderr, recordings), for the secrets sweep that runs after the
// suite (sidecar/test/reliability/secrets-sweep.ts). Each run gets a folder with a secrets.json listing the
// secrets that regate was configured with; the sweep greps every file for every secret listed there.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

export const TEST_OUTPUT_ROOT = join(packageRoot, "build", "test-output");

let seq = 0;

/** A fresh folder build/test-output/<group>/<name>-<time>-<pid>-<n>/. */
export function outputDir(group: string, name: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "");
  const dir = join(TEST_OUTPUT_ROOT, group, `${name.replace(/[^\w.-]+/g, "_")}-${stamp}-${process.pid}-${++seq}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Adds `secrets` to the folder's secrets.json (values shorter than 6 characters would match by chance). */
export function writeSecrets(dir: string, secrets: Iterable<string | undefined>): void {
  const file = join(dir, "secrets.json");
  const before: string[] = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as string[]) : [];
  const all = new Set(before);
  for (const s of secrets) if (typeof s === "string" && s.length >= 6) all.add(s);
  writeFileSync(file, JSON.stringify([...all]));
}

/** Every inline secret ({value: "..."}) in a config object, at any depth. */
export function inlineSecrets(config: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (!v || typeof v !== "object") return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    if (typeof o["value"] === "string" && Object.keys(o).length === 1) found.push(o["value"]);
    Object.values(o).forEach(walk);
  };
  walk(config);
  return found;
}

/** Writes what an in-process regate logged, with the secrets it held. Returns the folder. */
export function keepOutput(group: string, name: string, text: string, secrets: Iterable<string | undefined>): string {
  const dir = outputDir(group, name);
  writeFileSync(join(dir, "stdout.log"), text);
  writeSecrets(dir, secrets);
  return dir;
}
