import type { DecideOptions, Decider, Decision, PolicyInput } from "../decision/index.js";

/**
 * With approvals in the database (approvals.store: postgres), no agent statement may touch the store's
 * schema, whatever the policy says: an agent that could write the table could approve itself. Code
 * regate cannot see into (DO, EXECUTE, a function body) is refused too. The policy still runs and the
 * refusal is logged as its decision, as locks do (locks/guard.ts).
 */
export class ApprovalStoreGuard implements Decider {
  constructor(
    private readonly inner: Decider,
    private readonly schema: string,
  ) {}

  decide(input: PolicyInput, options?: DecideOptions): Decision {
    const touch = touches(input, this.schema);
    if (!touch) return this.inner.decide(input, options);
    const reason =
      touch === "names"
        ? `the ${this.schema} schema holds regate's approvals; agents may not use it`
        : `regate cannot see what this statement runs (DO, EXECUTE, a function body), and the ${this.schema} schema holds regate's approvals`;
    // Replaces the adapter's veto (a budget, say): this refusal stands whatever else would.
    return this.inner.decide(input, { ...options, veto: () => ({ reason, error_code: "POLICY_DENIED" }) });
  }

  congested(): boolean {
    return this.inner.congested?.() ?? false;
  }
}

/** Whether the statement names a relation in `schema` (also as a candidate of an unqualified name), or hides what it runs. */
function touches(input: PolicyInput, schema: string): "names" | "opaque" | undefined {
  if (input.kind !== "postgres") return undefined;
  const statements = (input.postgres as { statements?: { opaque?: boolean; tables?: { schema: string | null; candidates?: string[] }[] }[] } | undefined)?.statements ?? [];
  if (statements.some((st) => st.tables?.some((t) => t.schema === schema || t.candidates?.includes(schema)))) return "names";
  return statements.some((st) => st.opaque === true) ? "opaque" : undefined;
}
