import { defineConfig } from "vitest/config";

/**
 * Test files that need a module graph of their own: they mock modules (vi.mock), fake timers, or assert what a
 * module does before it is initialised, or read values fixtures draw once per module load. Every other file
 * shares its worker's loaded modules with the files before it (isolate: false), which halves the suite's time
 * (most of a file's start was importing and transforming sidecar/src again).
 */
const ISOLATED = [
  "sidecar/src/cluster/login-throttle.test.ts",
  "sidecar/src/http/upstream-read-whole.test.ts",
  "sidecar/src/identity/rotating-directory.test.ts",
  "sidecar/src/postgres/sql/uninitialised.test.ts",
  "sidecar/test/recording/checkpoints.test.ts",
  "sidecar/test/recording/group-commit.test.ts",
  "sidecar/test/recording/http.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites each start a real PostgreSQL; two cores do not want more than two at once.
    // Transpiles sidecar/src once for the tests that start regate as a process (support/compiled-regate.ts).
    globalSetup: ["sidecar/test/support/global-setup.ts"],
    maxWorkers: 2,
    minWorkers: 1,
    // Every Postgres input serialised from its cached parts is compared with JSON.stringify (lifecycle/input-json.ts);
    // regate processes the suites start inherit it.
    env: { CHECK_REGATE_INPUT_JSON: "1" },
    // Whether a pool isolates its files is a setting of the whole run (vitest 3), not of a project: the shared
    // files run in forks without isolation, the isolated ones in threads, each file in a fresh one.
    poolOptions: { forks: { isolate: false }, threads: { isolate: true } },
    projects: [
      { extends: true, test: { name: "shared", include: ["sidecar/**/*.test.ts"], exclude: ISOLATED } },
      { extends: true, test: { name: "isolated", include: ISOLATED, pool: "threads" } },
    ],
  },
});
