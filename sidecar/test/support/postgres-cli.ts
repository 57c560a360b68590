// Starts a throwaway PostgreSQL with the demo data and keeps it up until SIGINT or SIGTERM.
//
//   npx tsx sidecar/test/support/postgres-cli.ts [--auth scram-sha-256|md5|trust] [--port N] [--no-demo]
//
// Prints one JSON line on stdout once the server is ready (connection info, URLs for every role); the server
// log goes to stderr with REGATE_TEST_PG_LOG=1. Used by the benchmarks and `make run`.
import { parseArgs } from "node:util";
import { startPostgres, type AuthMethod } from "./postgres.js";

const AUTH_METHODS: readonly AuthMethod[] = ["scram-sha-256", "md5", "trust"];

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: postgres-cli.ts [--auth scram-sha-256|md5|trust] [--port N] [--no-demo]\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        auth: { type: "string", default: "scram-sha-256" },
        port: { type: "string" },
        "no-demo": { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
})();

const authMethod = values.auth as AuthMethod;
if (!AUTH_METHODS.includes(authMethod)) usage(`unknown --auth ${values.auth}`);
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) usage(`bad --port ${values.port}`);

const db = await startPostgres({ authMethod, loadDemo: !values["no-demo"], ...(port === undefined ? {} : { port }) });

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`postgres-cli: ${signal}, stopping\n`);
  db.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`postgres-cli: stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
// The server runs detached (pg_ctl), so nothing else keeps this process, and with it the server, alive.
setInterval(() => undefined, 1 << 30);

process.stdout.write(
  `${JSON.stringify({
    host: db.host,
    port: db.port,
    database: db.database,
    authMethod: db.authMethod,
    adminUser: db.adminUser,
    adminPassword: db.adminPassword,
    users: db.users,
    urls: { admin: db.url(), scram: db.url(db.users.scram.user), md5: db.url(db.users.md5.user) },
    dir: db.dir,
    pid: process.pid,
  })}\n`,
);
