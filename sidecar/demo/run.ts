import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startApp } from "../src/app.js";
import { DEFAULT_CONFIG_PATH } from "../src/cli/config-arg.js";
import { loadConfig } from "../src/config/index.js";
import { createLogger } from "../src/log.js";
import { packageRoot } from "../src/paths.js";
import { startPostgres } from "../test/support/postgres.js";
import { startDemoApi } from "./demo-api.js";

// `make run`: an embedded PostgreSQL with the demo data (or DATABASE_URL), the demo API, and regate
// in front of both with the example policy. Decision logs go to stdout; Ctrl-C stops everything.

const EMBEDDED_PORT = 55432;
const DEMO_API_PORT = 9100;

const { values } = parseArgs({ options: { "database-url": { type: "string" } } });
const databaseUrl = values["database-url"];
const say = (s: string) => process.stderr.write(`${s}\n`);

const embedded = databaseUrl ? undefined : await startPostgres({ port: EMBEDDED_PORT });
const upstreamUrl = databaseUrl ?? embedded!.url(embedded!.users.scram.user);
const apiToken = randomBytes(18).toString("base64url");
const api = await startDemoApi({ port: DEMO_API_PORT, token: apiToken, databaseUrl: upstreamUrl });

// The demo config with its upstream pointed at the database chosen above; secrets come through env.
const env = { ...process.env, DEMO_DB_PASSWORD: "unused", DEMO_API_TOKEN: apiToken, DEMO_DATABASE_URL: upstreamUrl };
env["REGATE_POSTGRES__UPSTREAM__URL"] = "{env: DEMO_DATABASE_URL}";
// Approvals on, with one reviewer whose token is printed below (docs/approvals.md).
const reviewerToken = randomBytes(18).toString("base64url");
env["DEMO_REVIEWER_TOKEN"] = reviewerToken;
env["REGATE_APPROVALS__ENABLED"] = "true";
env["REGATE_APPROVALS__REVIEWERS"] = "[{name: demo-reviewer, token: {env: DEMO_REVIEWER_TOKEN}, groups: [dba-oncall, finance]}]";
// One responder who can list and kill sessions and lock agents (docs/incident-response.md).
const responderToken = randomBytes(18).toString("base64url");
env["DEMO_RESPONDER_TOKEN"] = responderToken;
env["REGATE_INCIDENT__RESPONDERS"] = "[{name: demo-responder, token: {env: DEMO_RESPONDER_TOKEN}}]";
const config = loadConfig({ text: readFileSync(DEFAULT_CONFIG_PATH, "utf8"), baseDir: packageRoot, env });
const log = createLogger({ level: config.log.level });
const app = await startApp({ config, log });

say(`
regate is running (example policy, revision ${app.store.active?.revision}).

  database   ${databaseUrl ? "DATABASE_URL" : `embedded PostgreSQL 18 on 127.0.0.1:${EMBEDDED_PORT} with the demo data`}
  postgres   psql "postgres://demo-agent:demo-agent-token@127.0.0.1:${app.ports.postgres}/demo?sslmode=disable"
  http       curl -s -H "Authorization: Bearer demo-agent-token" http://127.0.0.1:${app.ports.http}/api/customers/1
  admin      curl -s http://127.0.0.1:${app.ports.admin}/metrics
  approvals  http://127.0.0.1:${app.ports.admin}/approvals/ui   reviewer token ${reviewerToken}
             REGATE_REVIEWER_TOKEN=${reviewerToken} npx tsx sidecar/src/main.ts approvals list --url http://127.0.0.1:${app.ports.admin}
  incident   REGATE_RESPONDER_TOKEN=${responderToken} npx tsx sidecar/src/main.ts sessions list --url http://127.0.0.1:${app.ports.admin}

Try:  SELECT id, email, ssn, card_number FROM customers LIMIT 3;   -- masked
      DELETE FROM orders;                                           -- denied: no WHERE
      UPDATE payments SET status = 'refunded' WHERE id = 1;         -- held until a reviewer answers on the page
      SELECT * FROM internal.api_keys;                              -- denied
      curl -s -X DELETE -H "Authorization: Bearer demo-agent-token" http://127.0.0.1:${app.ports.http}/api/orders/1

Decision logs follow on stdout. Ctrl-C stops everything.
`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`\n${signal}: stopping regate, the demo API${embedded ? " and the embedded database" : ""}`);
  try {
    await app.close();
    await new Promise<void>((r) => api.close(() => r()));
  } finally {
    // The embedded server runs detached: whatever failed above, it must not outlive `make run`.
    await embedded?.stop();
    log.flush();
    process.exit(0);
  }
}
// Kept for every signal, not once: Ctrl-C reaches make, tsx's launcher and this process together, and the
// launcher may relay it again; a second SIGINT without a listener here would end this process before the
// embedded PostgreSQL is stopped, leaving it on its fixed port.
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
