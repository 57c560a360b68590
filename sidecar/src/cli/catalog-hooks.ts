// regate catalog-hooks [--schema S] [--apply DATABASE_URL]: the event triggers that NOTIFY regate of DDL.
import { parseArgs } from "node:util";
import { Secret, type UpstreamConfig } from "../config/index.js";
import { applyCatalogHooks, catalogHooksSql } from "../postgres/index.js";

const USAGE = `usage: regate catalog-hooks [--schema public] [--apply postgres://user:password@host:port/db?sslmode=require]
  Prints the SQL of the event triggers (ddl_command_end, sql_drop) that NOTIFY regate_catalog after DDL,
  so regate drops cached catalog facts at once. With --apply, installs them (needs a superuser).
`;

export async function catalogHooksCommand(argv: string[]): Promise<number> {
  let values: { schema?: string | undefined; apply?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { schema: { type: "string" }, apply: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sql = catalogHooksSql(values.schema ?? "public");
  if (!values.apply) {
    process.stdout.write(sql);
    return 0;
  }
  let upstream: UpstreamConfig;
  try {
    upstream = upstreamFromUrl(values.apply);
  } catch (err) {
    process.stderr.write(`regate catalog-hooks: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    await applyCatalogHooks(upstream, sql);
  } catch (err) {
    process.stderr.write(`regate catalog-hooks: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`installed regate catalog hooks in ${upstream.database} on ${upstream.host}:${upstream.port}\n`);
  return 0;
}

/** A libpq-style URL: postgres[ql]://user[:password]@host[:port]/database[?sslmode=disable|require|verify-full&sslrootcert=file]. */
export function upstreamFromUrl(text: string): UpstreamConfig {
  const url = new URL(text);
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error("DATABASE_URL must start with postgres:// or postgresql://");
  const sslmode = url.searchParams.get("sslmode") ?? "require";
  if (sslmode !== "disable" && sslmode !== "require" && sslmode !== "verify-full") throw new Error(`sslmode ${sslmode} is not supported (disable, require, verify-full)`);
  const user = decodeURIComponent(url.username);
  if (!user) throw new Error("DATABASE_URL has no user");
  const password = url.password ? new Secret(decodeURIComponent(url.password), "--apply URL") : undefined;
  const ca = url.searchParams.get("sslrootcert");
  return {
    host: url.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: url.port ? Number(url.port) : 5432,
    database: decodeURIComponent(url.pathname.slice(1)) || user,
    user,
    ...(password ? { password } : {}),
    sslmode,
    ...(ca ? { ca_file: ca } : {}),
    connect_timeout_ms: 10_000,
  };
}
