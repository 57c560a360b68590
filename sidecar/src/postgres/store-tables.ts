import { literal } from "./simple-query.js";
import type { SerialConnection } from "./serial-connection.js";

/**
 * The migration of a table regate keeps in PostgreSQL for its replicas (locks, approvals, recordings):
 * `ddl` (CREATE TABLE/INDEX IF NOT EXISTS ...) in one transaction, after the schema, with an advisory lock so
 * two replicas starting together do not race.
 */
export function storeTablesSql(schema: string, store: string, ddl: string): string {
  return `BEGIN;
SELECT pg_advisory_xact_lock(hashtext(${literal(`regate.${store}.migrate`)}));
CREATE SCHEMA IF NOT EXISTS ${schema};
${ddl}
COMMIT;`;
}

/**
 * Runs the migration only when `table` is missing. CREATE SCHEMA needs CREATE on the database even when the
 * schema exists, so when an administrator made the table beforehand regate's role needs no more than the
 * table's rights. Throws when the database cannot be reached: a store must not start blind.
 */
export async function ensureStoreTables(db: SerialConnection, table: string, migration: string): Promise<void> {
  const [exists] = await db.query(`SELECT to_regclass(${literal(table)}) IS NOT NULL`);
  if (exists?.[0] !== "t") await db.query(migration);
}
