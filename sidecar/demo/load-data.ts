import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { packageRoot } from "../src/paths.js";

// `make demo-data DATABASE_URL=...`: the demo schema and data set, into a database of your own.
// schema.sql drops and recreates only its own tables (public.customers, orders, payments; internal.api_keys).
const { values } = parseArgs({ options: { "database-url": { type: "string" } } });
if (!values["database-url"]) throw new Error("usage: load-data.ts --database-url postgres://user:pass@host:port/db");
const demo = join(packageRoot, "testdata", "demo");
const client = new pg.Client({ connectionString: values["database-url"] });
await client.connect();
try {
  await client.query(await readFile(join(demo, "schema.sql"), "utf8"));
  await client.query(await readFile(join(demo, "seed.sql"), "utf8"));
  const { rows } = await client.query("SELECT (SELECT count(*) FROM public.customers) AS customers, (SELECT count(*) FROM public.orders) AS orders, (SELECT count(*) FROM public.payments) AS payments");
  process.stdout.write(`demo data loaded: ${JSON.stringify(rows[0])}\n`);
} finally {
  await client.end();
}
