import type { DecideOptions, Decider, Veto } from "./decider.js";
import type { Decision, PolicyInput } from "./types.js";

/** A schema where regate keeps state replicas share, and what it holds ("regate's locks"). */
export interface ProtectedSchema {
  schema: string;
  holds: string;
}

/**
 * With locks or approvals in the database, no agent statement may touch their schema, whatever the policy
 * says (an agent that could write the approvals table could approve itself; the locks table, unlock
 * itself), and code regate cannot see into (DO, EXECUTE, a function body) is refused too. The policy
 * still runs and the refusal is logged as its decision, as other adapter vetoes are.
 */
export class StoreSchemaGuard implements Decider {
  constructor(
    private readonly inner: Decider,
    private readonly schemas: readonly ProtectedSchema[],
  ) {}

  decide(input: PolicyInput, options?: DecideOptions): Decision {
    const refusal = refusalFor(input, this.schemas);
    if (!refusal) return this.inner.decide(input, options);
    // Another veto (a lock, a budget) may give its own reason; either way the statement is refused.
    const other = options?.veto;
    return this.inner.decide(input, { ...options, veto: (d) => other?.(d) ?? refusal });
  }

  congested(): boolean {
    return this.inner.congested?.() ?? false;
  }
}

/**
 * Statements that reach objects without naming them as relations: a schema itself (ALTER SCHEMA … RENAME
 * moves the table out of the name regate reads, so an agent could forge rows under the new name and
 * rename it back), everything a role owns (DROP / REASSIGN OWNED), privileges by schema, an extension
 * created into a schema, an object moved between schemas. Which schema they name is not in the facts, so
 * they are refused while any store schema is protected.
 */
const BULK_OBJECTS = new Set(["schema", "owned", "default_privileges", "extension"]);

interface GuardedFacts {
  node?: string;
  opaque?: boolean;
  tables?: { schema: string | null; candidates?: string[] }[];
  ddl?: { object: string } | null;
}

function reachesUnnamed(st: GuardedFacts): boolean {
  if (st.ddl && BULK_OBJECTS.has(st.ddl.object)) return true;
  if (st.node === "AlterObjectSchemaStmt") return true;
  // GRANT/REVOKE … ON ALL TABLES IN SCHEMA names no relation.
  return st.node === "GrantStmt" && (st.tables?.length ?? 0) === 0 && st.ddl?.object !== "function" && st.ddl?.object !== "procedure" && st.ddl?.object !== "routine";
}

function refusalFor(input: PolicyInput, schemas: readonly ProtectedSchema[]): Veto | undefined {
  if (input.kind !== "postgres") return undefined;
  const statements = (input.postgres as { statements?: GuardedFacts[] } | undefined)?.statements ?? [];
  for (const { schema, holds } of schemas) {
    // Named outright, or as a candidate of an unqualified name (search_path could resolve it there).
    if (statements.some((st) => st.tables?.some((t) => t.schema === schema || t.candidates?.includes(schema)))) {
      return { reason: `the ${schema} schema holds ${holds}; agents may not use it`, error_code: "POLICY_DENIED" };
    }
  }
  if (schemas.length > 0 && statements.some(reachesUnnamed)) {
    const [{ schema, holds }] = schemas as [ProtectedSchema];
    return { reason: `this statement acts on schemas or objects it does not name as tables, and the ${schema} schema holds ${holds}`, error_code: "POLICY_DENIED" };
  }
  if (schemas.length > 0 && statements.some((st) => st.opaque === true)) {
    const [{ schema, holds }] = schemas as [ProtectedSchema];
    return { reason: `regate cannot see what this statement runs (DO, EXECUTE, a function body), and the ${schema} schema holds ${holds}`, error_code: "POLICY_DENIED" };
  }
  return undefined;
}
