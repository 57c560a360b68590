import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { Writable } from "node:stream";
import { expect } from "vitest";
import { stringify } from "yaml";
import { startApp, type App, type AppOptions } from "../../src/app.js";
import { flushLogBatches } from "../../src/audit/index.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { packageRoot } from "../../src/paths.js";
import type { TestPostgres } from "./postgres.js";
import { inlineSecrets, keepOutput } from "./test-output.js";

export const AGENT = { user: "test-agent", token: "agent-token-7f3a9c" };
export const BUNDLE = join(packageRoot, "build", "bundle.tar.gz");

export interface TestRegate {
  app: App;
  port: number;
  /** Every log line regate wrote (decision logs included), as text. */
  logs(): string;
  /** Parsed decision-log events. */
  decisions(): Record<string, any>[];
  url(user?: string, token?: string): string;
  stop(): Promise<void>;
}

/** Starts regate in process in front of `pg`, with the example policy and a capturing logger. */
export async function startRegate(pg: TestPostgres, overrides: Record<string, unknown> = {}, options: Pick<AppOptions, "sessionHooks"> = {}): Promise<TestRegate> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run make bundle first`);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  const base = {
    policy: { bundle: BUNDLE, watch_interval_ms: 0 },
    log: { level: "debug" },
    agents: { tokens: [{ subject: AGENT.user, groups: ["agents"], token: { value: AGENT.token } }] },
    postgres: {
      listen: { host: "127.0.0.1", port: 0 },
      target: "test-db",
      upstream: { host: pg.host, port: pg.port, database: pg.database, user: pg.users.scram.user, password: { env: "TEST_UPSTREAM_PASSWORD" } },
    },
    admin: { enabled: false },
  };
  const merged = merge(base, overrides);
  const config = loadConfig({ text: stringify(merged), env: { TEST_UPSTREAM_PASSWORD: pg.users.scram.password } });
  const log = createLogger({ level: "debug", destination: sink });
  const app = await startApp({ config, log, ...options });
  const port = app.ports.postgres!;
  return {
    app,
    port,
    logs: () => (flushLogBatches(), lines.join("\n")),
    decisions: () => (flushLogBatches(), lines).map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l["msg"] === "Decision Log"),
    url: (user = AGENT.user, token = AGENT.token) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(token)}@127.0.0.1:${port}/${pg.database}?sslmode=disable`,
    async stop() {
      await app.close();
      // Kept for the secrets sweep that runs after the suite (sidecar/test/reliability/secrets-sweep.ts).
      keepOutput("suite", testName(), lines.join("\n"), [AGENT.token, pg.users.scram.password, pg.users.md5.password, pg.adminPassword, ...inlineSecrets(merged)]);
    },
  };
}

/** The test file's name, for the output folder. */
function testName(): string {
  const path = expect.getState().testPath;
  return path ? basename(path).replace(/\.test\.ts$/, "") : "regate";
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    // Secret references replace each other whole ({env} vs {value}).
    const secret = ["password", "token", "secret", "url"].includes(k);
    out[k] = !secret && v && typeof v === "object" && !Array.isArray(v) && prev && typeof prev === "object" && !Array.isArray(prev) ? merge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
