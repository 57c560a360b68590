import type { Decision } from "../../decision/index.js";
import { RegateError } from "../../errors.js";
import { maskText } from "../../mask/index.js";
import { buildMaskPlan, maskValue, type MaskPlan } from "../mask-plan.js";
import type { Pending } from "../pending.js";
import { Backend, decodeNotice, encodeNotice, rewriteDataRow, type FieldDescription, type Frame } from "../protocol/index.js";
import type { AnalysisResult } from "../sql/types.js";
import type { SessionState } from "./state.js";
import type { Statement } from "./statement.js";

/** The mask plan for one result: which output columns are masked, and how. */
export function planFor(s: SessionState, decision: Decision | undefined, analysis: AnalysisResult | undefined, fields: FieldDescription[], index = 0): MaskPlan | undefined {
  if (!decision || decision.mask.length === 0) return undefined;
  return buildMaskPlan(decision.mask, analysis?.statements[index], fields, (oid, attnum) => s.ctx.catalog.column(oid, attnum));
}

function rewrite(s: SessionState, raw: Buffer, plan: MaskPlan, statement: Statement | undefined, binary: (column: number) => boolean): Buffer {
  return rewriteDataRow(raw, plan.columns, (i, v) => {
    if (statement && v !== null) statement.result.masked_values++;
    return maskValue(plan, i, v, binary(i), s.ctx.maskKey);
  });
}

/** Stage 7: a DataRow as the client may see it, per the plan of the result it belongs to. */
export function maskRow(s: SessionState, f: Frame, head: Pending | undefined): Buffer {
  if (head?.kind === "query") {
    return head.plan ? rewrite(s, f.raw, head.plan, head.stmt, () => false) : f.raw;
  }
  if (head?.kind === "execute" && head.portal && head.portal.decision.mask.length > 0) {
    const portal = head.portal;
    if (portal.plan === undefined) {
      const fields = portal.fields ?? portal.statement.fields;
      // Masks apply and the row shape is unknown: nothing can be shown safely.
      if (!fields) throw new RegateError("MASK_LINEAGE_UNKNOWN", "row shape unknown for a masked result");
      portal.plan = planFor(s, portal.decision, portal.statement.analysis, fields) ?? null;
    }
    const plan = portal.plan;
    if (!plan) return f.raw;
    const formats = portal.resultFormats;
    return rewrite(s, f.raw, plan, head.stmt, (i) => (formats.length === 1 ? formats[0] : formats[i]) === 1);
  }
  return f.raw;
}

function activeDecision(head: Pending | undefined): Decision | undefined {
  if (head?.kind === "query") return head.decision;
  if (head?.kind === "execute" || (head?.kind === "bind" && head.portal)) return head.portal?.decision;
  return undefined;
}

const NOTICE_DETECTORS = ["email", "card", "ssn", "phone", "iban", "aws_key", "jwt", "secret"] as const;

/** Error and notice text can quote row values (`DETAIL: Key (email)=(...)`): mask them as the result would be. */
export function maskNotice(f: Frame, head: Pending | undefined): Buffer {
  const decision = activeDecision(head);
  if (!decision || decision.mask.length === 0) return f.raw;
  const fields = decodeNotice(f.body);
  let changed = false;
  for (const code of ["M", "D", "W", "H"]) {
    const text = fields[code];
    if (!text) continue;
    let masked = maskText(text, [...NOTICE_DETECTORS], "redact") ?? "";
    // Row values quoted by the server: "Key (col)=(value)", "Failing row contains (...)".
    masked = masked.replace(/(Key \([^)]*\)=\()(.*)(\))/g, "$1****$3").replace(/(Failing row contains \()(.*)(\))/g, "$1****$3");
    if (masked !== text) {
      fields[code] = masked;
      changed = true;
    }
  }
  return changed ? encodeNotice(f.type as typeof Backend.ErrorResponse, fields) : f.raw;
}
