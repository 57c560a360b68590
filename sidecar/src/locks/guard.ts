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
    const lock = this.locks.find(input.session.principal, input.session.id);
    let veto: Veto | undefined = lock ? { reason: this.locks.refusal(lock).message.replace(/^regate: /, ""), error_code: "LOCKED" } : undefined;
    if (!veto && this.protectedSchema && touches(input, this.protectedSchema)) {
      veto = { reason: `the ${this.protectedSchema} schema holds regate's locks; agents may not use it`, error_code: "POLICY_DENIED" };
    }
    if (!veto) return this.inner.decide(input, options);
    const refusal = veto;
    return this.inner.decide(input, { ...options, veto: () => refusal });
  }

  congested(): boolean {
    return this.inner.congested?.() ?? false;
  }
}

/** Any relation the statement names in `schema`, also as one candidate of an unqualified name. */
function touches(input: PolicyInput, schema: string): boolean {
  if (input.kind !== "postgres") return false;
  const statements = (input.postgres as { statements?: { tables?: { schema: string | null; candidates?: string[] }[] }[] } | undefined)?.statements ?? [];
  return statements.some((st) => st.tables?.some((t) => t.schema === schema || t.candidates?.includes(schema)));
}
