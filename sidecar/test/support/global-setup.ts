// Once per vitest run: transpile sidecar/src to JavaScript for the tests that start regate as a process
// (compiled-regate.ts says why). Each run gets its own directory, so runs side by side never read each other's
// half-written files, and removes it at the end.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../../src/paths.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** One build per vitest process: the root config and each test project (vitest.config.ts) call this setup. */
const shared = globalThis as { regateTestDist?: { users: number; built: Promise<void> } };

export default async function setup(): Promise<() => void> {
  // Under build/ so that paths.ts, walking up from the output, finds this checkout's root (package.json,
  // testdata/) and node_modules as it does from the sources.
  const out = join(packageRoot, "build", "test-dist", String(process.pid));
  const dist = (shared.regateTestDist ??= { users: 0, built: transpile(out) });
  dist.users++;
  await dist.built;
  process.env["COMPILED_REGATE_MAIN"] = join(out, "sidecar", "src", "main.js");
  return () => {
    if (--dist.users === 0) rmSync(out, { recursive: true, force: true });
  };
}

async function transpile(out: string): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: sources(join(packageRoot, "sidecar", "src")),
    outdir: out,
    outbase: packageRoot,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
}
