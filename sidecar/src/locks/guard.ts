import type { DecideOptions, Decider, Decision, PolicyInput, Veto } from "../decision/index.js";
import type { LockService } from "./service.js";

/**
 * The decider adapters call, with locks in front: a statement or HTTP request of a locked agent is
 * refused with LOCKED. The policy still runs and the refusal is logged as the decision, as budgets
 * and other adapter vetoes are, so the decision log shows what the lock stopped.
 */
export class LockGuard implements Decider {
  constructor(
    private readonly inner: Decider,
    private readonly locks: LockService,
    /** The lock store's schema (store: postgres): no agent statement may touch it, whatever the policy says. */
    private readonly protectedSchema?: string,
  ) {}

  decide(input: PolicyInput, options?: DecideOptions): Decision {
    this.locks.remember(input.session.principal);
    const lock = this.locks.find(input.session.principal, input.session.id);
    let veto: Veto | undefined = lock ? { reason: this.locks.refusal(lock).message.replace(/^regate: /, ""), error_code: "LOCKED" } : undefined;
    if (!veto && this.protectedSchema) {
      const touch = touches(input, this.protectedSchema);
      if (touch === "names") veto = { reason: `the ${this.protectedSchema} schema holds regate's locks; agents may not use it`, error_code: "POLICY_DENIED" };
      // Code regate cannot see into could reach the lock table as well: with locks in the database, it is refused.
      if (touch === "opaque") veto = { reason: `regate cannot see what this statement runs (DO, EXECUTE, a function body), and the ${this.protectedSchema} schema holds regate's locks`, error_code: "POLICY_DENIED" };
    }
    if (!veto) return this.inner.decide(input, options);
    const refusal = veto;
    return this.inner.decide(input, { ...options, veto: () => refusal });
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
