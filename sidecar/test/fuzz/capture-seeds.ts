// Captures what real drivers and PostgreSQL say to each other, as seeds for the protocol fuzz targets
// (docs/reliability.md, "Fuzzing"): each client script of sidecar/test/clients (psql, psycopg, asyncpg, pgx,
// JDBC) and node-postgres runs its scenario against a throwaway PostgreSQL through a TCP proxy that keeps
// every chunk each side sent. Written to testdata/fuzz/seeds/<client>.json:
//   startup   the packets before authentication (SSLRequest, StartupMessage), one seed each
//   frontend  the client's later chunks, as the socket delivered them (several messages in one: pipelines)
//   backend   the server's chunks, likewise
// Chunks above 4 KiB (the frontend and backend targets' maxLength) are left out, and repeated chunks kept once.
// The roles are the harness's throwaway test roles; SCRAM proofs are not passwords.
//
//   npx tsx sidecar/test/fuzz/capture-seeds.ts [client ...]      (make fuzz-seeds; needs scripts/clients-setup.sh)
import { mkdirSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { startPostgres } from "../support/postgres.js";
import { CLIENTS, clientAvailability, formatRun, runClient, type ClientName } from "../clients/run.js";
import { ROOT } from "./targets.js";

export const SEEDS_DIR = join(ROOT, "testdata", "fuzz", "seeds");
const MAX_CHUNK = 4096;

interface Capture {
  startup: Buffer[];
  frontend: Buffer[];
  backend: Buffer[];
}

/** A proxy to `port` that appends every chunk to `into`; the first client packets go to `startup`. */
function captureProxy(port: number, into: Capture): Promise<{ server: Server; port: number }> {
  const server = createServer((client) => {
    const upstream = connect({ host: "127.0.0.1", port });
    // Until the server's first message (an AuthenticationRequest, or the one-byte answer to SSLRequest),
    // what the client sends is startup traffic: packets without a type byte.
    let startupPhase = true;
    client.on("data", (chunk: Buffer) => {
      (startupPhase ? into.startup : into.frontend).push(Buffer.from(chunk));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      // "N"/"S" alone answers SSLRequest or GSSENCRequest: the StartupMessage is still to come.
      if (!(chunk.length === 1 && (chunk[0] === 0x4e || chunk[0] === 0x53))) startupPhase = false;
      into.backend.push(Buffer.from(chunk));
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port })));
}

function seedFile(client: string, c: Capture): Record<string, unknown> {
  const keep = (chunks: Buffer[]) => [...new Set(chunks.filter((b) => b.length <= MAX_CHUNK).map((b) => b.toString("hex")))];
  return { client, captured_at: new Date().toISOString(), startup: keep(c.startup), frontend: keep(c.frontend), backend: keep(c.backend) };
}

/** node-postgres: simple and extended queries, a named statement, an error, a transaction, a cancel. */
async function nodePg(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: "regate-seed-capture" });
  await c.connect();
  await c.query("SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3");
  await c.query({ text: "SELECT id, full_name FROM public.customers WHERE id = $1", values: [2] });
  await c.query({ name: "by_id", text: "SELECT id, email FROM public.customers WHERE id = $1", values: [3] });
  await c.query({ name: "by_id", text: "SELECT id, email FROM public.customers WHERE id = $1", values: [1] });
  await c.query("DELETE FROM public.orders").catch(() => undefined);
  await c.query("BEGIN; SELECT 1; COMMIT");
  await c.query({ text: "SELECT $1::int4 + 1 AS n, $2::text AS t, $3::bytea AS b", values: [41, null, Buffer.from([0, 1, 2])] });
  await c.end();
}

const ALL = [...CLIENTS, "node-pg"] as const;

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const clients = (wanted.length ? wanted : ALL) as (ClientName | "node-pg")[];
  const db = await startPostgres();
  mkdirSync(SEEDS_DIR, { recursive: true });
  try {
    await db.query("REVOKE DELETE ON public.orders FROM app_scram");
    const names = (await db.query("SELECT full_name FROM public.customers WHERE id <= 3 ORDER BY id")).map((r: { full_name: string }) => r.full_name);
    for (const client of clients) {
      if (client !== "node-pg") {
        const a = clientAvailability(client);
        if (!a.available) throw new Error(`${client} is not set up (${a.reason}): run scripts/clients-setup.sh`);
      }
      const capture: Capture = { startup: [], frontend: [], backend: [] };
      const proxy = await captureProxy(db.port, capture);
      const url = db.url("app_scram").replace(`:${db.port}/`, `:${proxy.port}/`);
      if (client === "node-pg") await nodePg(url);
      else {
        const run = await runClient(client, url, { EXPECT_NAMES: JSON.stringify(names) });
        if (!run.ok) throw new Error(`${client} failed its scenario through the capture proxy:\n${formatRun(run)}`);
      }
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      const file = join(SEEDS_DIR, `${client}.json`);
      const seeds = seedFile(client, capture);
      writeFileSync(file, `${JSON.stringify(seeds, null, 1)}\n`);
      process.stdout.write(`${client}: ${(seeds["startup"] as string[]).length} startup, ${(seeds["frontend"] as string[]).length} frontend, ${(seeds["backend"] as string[]).length} backend chunks -> ${file}\n`);
    }
  } finally {
    await db.stop();
  }
}

await main();
