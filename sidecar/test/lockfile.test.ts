import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../src/paths.js";

// `make deps` runs `npm ci`, which installs package-lock.json as it is and refuses a lock that misses a
// dependency, optional ones included ("Missing: @rollup/rollup-darwin-arm64 from lock file"). When the lock
// lacked other platforms' optional packages, `npm install` added them back, so a fresh clone came out dirty.

interface LockPackage {
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(packageRoot, "package-lock.json"), "utf8")) as {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
};
const manifest = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as LockPackage;

/** Where npm finds `name` for the package at `from`: its own node_modules, then each parent's, up to the root. */
function resolve(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir === "" ? "" : `${dir}/`}node_modules/${name}`;
    if (candidate in lock.packages) return candidate;
    if (dir === "") return undefined;
    const at = dir.lastIndexOf("/node_modules/");
    dir = at < 0 ? "" : dir.slice(0, at);
  }
}

describe("package-lock.json", () => {
  it("is a v3 lock whose root entry matches package.json", () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[""]!;
    expect(root.dependencies ?? {}).toEqual(manifest.dependencies ?? {});
    expect(root.devDependencies ?? {}).toEqual(manifest.devDependencies ?? {});
    expect(root.optionalDependencies ?? {}).toEqual(manifest.optionalDependencies ?? {});
  });

  it("lists every dependency of every package, every platform's optional packages included", () => {
    const missing: string[] = [];
    for (const [path, pkg] of Object.entries(lock.packages)) {
      const deps = { ...pkg.dependencies, ...(path === "" ? pkg.devDependencies : {}), ...pkg.optionalDependencies };
      for (const name of Object.keys(deps)) {
        if (resolve(path, name) === undefined) missing.push(`${path || "(root)"} -> ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
