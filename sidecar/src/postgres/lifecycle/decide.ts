import { roomInSinks, type DecideOptions, type Decision, type PolicyInput, type Veto } from "../../decision/index.js";
import { ruleCovers } from "../mask-plan.js";
import type { AnalysisResult } from "../sql/types.js";
import { postgresInput, type PostgresInputParts } from "../to-input.js";
import { fastpathVeto } from "./function-call.js";
import { holdApproval } from "./hold.js";
import { uncountable } from "./rows-changed.js";
import { cutCannotUndo } from "./transaction.js";
import { postgresInputJson } from "./input-json.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/**
 * COPY output bypasses DataRow masking: a COPY that would send what a mask rule covers is refused, inside the
 * logged decision. Out of the database, CopyData carries every value unread, so a detector rule refuses it as a
 * column rule does; a column rule refuses it unless every column it sends is known and none carries a
 * column the rule names (`COPY customers (id, full_name) TO STDOUT` sends what a SELECT of them sends unmasked).
 */
function copyVeto(analysis: AnalysisResult | undefined): ((d: Decision) => Veto | undefined) | undefined {
  if (!analysis?.statements.some((st) => st.kind === "copy")) return undefined;
  const out = analysis.statements.some((st) => st.copy?.direction === "to");
  return (d) => (d.mask.some((m) => (out && m.detector) || (m.column !== undefined && copyMayCarry(analysis, m.column))) ? { reason: "COPY cannot be masked; use SELECT", error_code: "MASK_LINEAGE_UNKNOWN" } : undefined);
}

/** Some COPY of `analysis` may carry values of `column` ("schema.table.column"): into the table, or out of it unread. */
function copyMayCarry(analysis: AnalysisResult, column: string): boolean {
  return analysis.statements.some((st) => {
    if (st.kind !== "copy") return false;
    if (st.copy?.direction !== "to" || st.outputs.length === 0) return true;
    return st.outputs.some((o) => o.unknown || o.lineage.some((c) => ruleCovers(column, c.schema, c.table, c.column)));
  });
}

function input(s: SessionState, message: PostgresInputParts["message"], extra: Record<string, unknown>, analysis: AnalysisResult | undefined) {
  const budget = s.ctx.budget;
  // Members set one by one rather than spread from empty objects: this runs for every statement.
  const parts: PostgresInputParts = { message, extra, searchPath: s.searchPath.current, txStatus: s.txStatus };
  if (analysis) parts.analysis = analysis;
  if (budget.enabled) parts.budget = budget.input();
  return postgresInput(s.info, parts);
}

/**
 * Stage 3: the statement's input goes to the policy; the answer is the decision to enforce. May wait:
 * an `approve` is held by the `hold` hook when one is wired (else refused by the enforce stage); a
 * Parse's `approve` is held at its Bind (hold.ts).
 * Adapter-side refusals (budgets, COPY with masks) are vetoes applied before the decision is logged.
 */
export function decide(
  s: SessionState,
  statement: Statement,
  message: PostgresInputParts["message"],
  extra: Record<string, unknown>,
): Decision | Promise<Decision> {
  // A decision sink in block mode is full: wait a bounded time for room, then decide (which refuses if still full).
  if (s.ctx.decider.congested?.()) return roomInSinks(s.ctx.decider).then(() => decideLeased(s, statement, message, extra));
  return decideLeased(s, statement, message, extra);
}

/**
 * An agent budget kept by the cluster primary: the budget veto answers synchronously once a lease is here.
 * Checked again after each wait, in the same turn as the decision, so another session of the agent cannot
 * spend the lease in between; a few times at most, then the veto refuses.
 */
function decideLeased(
  s: SessionState,
  statement: Statement,
  message: PostgresInputParts["message"],
  extra: Record<string, unknown>,
  tries = 3,
): Decision | Promise<Decision> {
  const lease = tries > 0 ? s.ctx.budget.ready(statement.analysis?.statements.length ?? 1) : undefined;
  if (lease) return lease.then(() => decideLeased(s, statement, message, extra, tries - 1));
  return decideNow(s, statement, message, extra);
}

function decideNow(
  s: SessionState,
  statement: Statement,
  message: PostgresInputParts["message"],
  extra: Record<string, unknown>,
): Decision | Promise<Decision> {
  const analysis = statement.analysis;
  const copy = copyVeto(analysis) ?? fastpathVeto(message);
  const doc = input(s, message, extra, analysis);
  const key = s.reuse.key(analysis, message, s.txStatus, s.searchPath.current, extra);
  const prior = s.reuse.get(key, extra["parameters"], doc.budget);
  const options: DecideOptions = {
    // A reuse's input is serialised only if its log line carries it unmasked, when the batch is written.
    inputJson: prior ? lazyInputJson(doc, analysis) : postgresInputJson(doc, analysis),
    veto: adapterVeto(s, statement, analysis, copy),
  };
  if (prior) options.reuse = prior;
  const decision = s.ctx.decider.decide(doc, options);
  // Kept unless it is a reuse (set() refuses those): a prior the pipeline did not reuse (another bundle is
  // loaded now) is replaced by the decision just evaluated.
  s.reuse.set(key, decision, extra["parameters"], doc.budget);
  statement.decision = decision;
  // As callHook does, without a closure per statement.
  const decided = s.ctx.hooks.decided;
  if (decided) {
    try {
      decided(s.info, statement, decision);
    } catch (err) {
      hookFailed(s, "decided", err);
    }
  }
  // A Parse runs nothing: an approval is asked where the statement executes (hold.ts).
  return message === "parse" ? decision : holdApproval(s, statement, decision);
}

// The two closures every decision passes are made by these functions: an arrow assigned to a named member or
// variable is given a name at every creation under tsx (esbuild's keepNames), which cost ~1% of a pgbench run.

function lazyInputJson(doc: PolicyInput, analysis: AnalysisResult | undefined): () => string {
  return () => postgresInputJson(doc, analysis);
}

function adapterVeto(s: SessionState, statement: Statement, analysis: AnalysisResult | undefined, copy: ((d: Decision) => Veto | undefined) | undefined): (d: Decision) => Veto | undefined {
  return (d) => {
    const spent = s.ctx.budget.admit(Date.now(), analysis?.statements.length ?? 1);
    if (spent) return spent;
    return copy?.(d) ?? cutCannotUndo(s, analysis) ?? uncountable(s, statement, analysis) ?? s.ctx.hooks.admit?.(s.info, statement, d);
  };
}

/**
 * The statement-level decision used only to shape a Describe reply (masked columns shown as text)
 * for a statement whose real decision waits for its Bind values. Not logged: it enforces nothing.
 */
export function previewShape(s: SessionState, analysis: AnalysisResult): Decision {
  return s.ctx.decider.decide(input(s, "parse", {}, analysis), { preview: true });
}

export function callHook(s: SessionState, name: string, call: () => void): void {
  try {
    call();
  } catch (err) {
    hookFailed(s, name, err);
  }
}

export function hookFailed(s: SessionState, name: string, err: unknown): void {
  s.log.error({ err, hook: name }, "session hook failed");
}
