import { maskCredentialLiterals, namesCredential, REDACTED } from "../mask/index.js";
import type { MaskOps } from "./log-mask.js";
import type { PolicyInput } from "./types.js";

interface LoggedPostgres {
  statements?: { sql?: unknown }[];
  parameters?: { value?: unknown }[];
}

/**
 * What regate itself hides from every logged view of a Postgres input, whatever the policy's log mask says: a
 * credential an agent puts in a statement (`ALTER ROLE … PASSWORD '…'`, a user mapping's password, a dblink
 * connection string, a URL with a password; mask/credentials.ts). Regate does not hold these, so the log's
 * secret search cannot know them, and a policy's mask rarely names them. The statement stays in the log with
 * its literals, and the Bind's parameter values, replaced by `****`. Undefined when nothing is to hide.
 * Applied before the policy's own operations (computed from the same input), so what those erase stays erased.
 */
export function credentialOps(input: PolicyInput): MaskOps | undefined {
  if (input.kind !== "postgres") return undefined;
  const pg = input.postgres as LoggedPostgres | undefined;
  const statements = pg?.statements;
  if (!statements) return undefined;
  let ops: MaskOps | undefined;
  for (let i = 0; i < statements.length; i++) {
    const sql = statements[i]?.sql;
    if (typeof sql !== "string" || !namesCredential(sql)) continue;
    ops ??= { erase: [], upsert: [] };
    ops.upsert.push({ path: `/input/postgres/statements/${i}/sql`, value: maskCredentialLiterals(sql) });
  }
  if (!ops) return undefined;
  const found = ops;
  pg.parameters?.forEach((p, j) => {
    if (p && typeof p === "object" && p.value !== null && p.value !== undefined) found.upsert.push({ path: `/input/postgres/parameters/${j}/value`, value: REDACTED });
  });
  return found;
}
