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

function refusalFor(input: PolicyInput, schemas: readonly ProtectedSchema[]): Veto | undefined {
  if (input.kind !== "postgres") return undefined;
  const statements = (input.postgres as { statements?: { opaque?: boolean; tables?: { schema: string | null; candidates?: string[] }[] }[] } | undefined)?.statements ?? [];
  for (const { schema, holds } of schemas) {
    // Named outright, or as a candidate of an unqualified name (search_path could resolve it there).
    if (statements.some((st) => st.tables?.some((t) => t.schema === schema || t.candidates?.includes(schema)))) {
      return { reason: `the ${schema} schema holds ${holds}; agents may not use it`, error_code: "POLICY_DENIED" };
    }
  }
  if (schemas.length > 0 && statements.some((st) => st.opaque === true)) {
    const [{ schema, holds }] = schemas as [ProtectedSchema];
    return { reason: `regate cannot see what this statement runs (DO, EXECUTE, a function body), and the ${schema} schema holds ${holds}`, error_code: "POLICY_DENIED" };
  }
  return undefined;
}
