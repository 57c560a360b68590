import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["sidecar/**/*.test.ts"],
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
  },
});
