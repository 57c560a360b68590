// A process that owns a test PostgreSQL and never stops it, for postgres.test.ts: it starts one, prints its
// postmaster's pid and temp dir as one JSON line, and waits to be ended (as vitest's pool ends a worker: SIGTERM).
import { startPostgres } from "./postgres.js";

const db = await startPostgres({ loadDemo: false });
process.stdout.write(`${JSON.stringify({ pid: db.pid(), dir: db.dir })}\n`);
setInterval(() => undefined, 60_000);
