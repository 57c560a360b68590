import type { Decision, Veto } from "../../decision/index.js";
import { RegateError, type ErrorCode } from "../../errors.js";
import type { Pending } from "../pending.js";
import { Backend, message, type Frame } from "../protocol/index.js";
import { SECRET_WITHHELD } from "./mask-rows.js";
import { observeRow } from "./observe.js";
import { ownRefusal } from "./refusal.js";
import type { SessionState } from "./state.js";
import type { Statement, StatementMessage } from "./statement.js";

/**
 * The fastpath FunctionCall ('F') returns one value in a FunctionCallResponse ('V'): no RowDescription, no
 * columns, no query text regate could analyse. So no mask can be applied to it (neither a column rule,
 * which needs lineage, nor a detector, which would have to read a binary value of any type), and a policy
 * that masks anything for the call gets it refused, inside the logged decision, as a masked COPY is.
 */
const CODE: ErrorCode = "MASK_LINEAGE_UNKNOWN";
const UNMASKABLE: Veto = { reason: "a FunctionCall (fastpath) result cannot be masked: regate cannot tie it to columns", error_code: CODE };

/** The veto decide.ts applies to a FunctionCall's decision (undefined for any other message). */
export function fastpathVeto(message: StatementMessage): ((d: Decision) => Veto | undefined) | undefined {
  return message === "function_call" ? (d) => (d.mask.length > 0 ? UNMASKABLE : undefined) : undefined;
}

/**
 * The same rule at enforce time, for a decision that reached it another way (an approval's allow keeps
 * the masks the policy gave): the refusal to send in its place, or undefined when it may run.
 */
export function unmaskedRefusal(d: Decision): Decision | undefined {
  if (d.outcome !== "allow" || d.mask.length === 0) return undefined;
  return ownRefusal(UNMASKABLE.reason, "call the function in a SELECT, whose result columns regate can mask", CODE);
}

const WITHHELD = Buffer.from(SECRET_WITHHELD, "utf8");

/**
 * A FunctionCallResponse as the client may see it: regate's own secrets are replaced in the value as they
 * are in error text (a function the policy allows may return anything the server can compute, a bytea in
 * text form spells its bytes in hex), then the message counts against the row and byte budgets as a
 * one-row result. Returns undefined when a budget withheld it: the cut machinery sends the 54000 error.
 */
export function functionResult(s: SessionState, f: Frame, head: Pending | undefined): Buffer | undefined {
  // Only a FunctionCall is answered with a 'V': one for anything else means regate's view is off.
  if (head?.kind !== "function_call" || head.denial) {
    throw new RegateError("PROTOCOL_VIOLATION", "the server sent a function result regate cannot match to a FunctionCall it forwarded; the session is ended");
  }
  const out = screened(s, f, head.stmt);
  return observeRow(s, head.stmt, out.length) ? out : undefined;
}

function screened(s: SessionState, f: Frame, statement: Statement | undefined): Buffer {
  const len = f.body.readInt32BE(0);
  if (len <= 0) return f.raw;
  let value = f.body.subarray(4, 4 + len);
  let changed = false;
  for (const form of forms(s.ctx.secrets)) {
    if (!value.includes(form)) continue;
    value = replaceAll(value, form);
    changed = true;
  }
  if (!changed) return f.raw;
  s.log.warn({ stmt: statement?.seq }, "a FunctionCall result carried regate's upstream secret; replaced");
  const body = Buffer.allocUnsafe(4 + value.length);
  body.writeInt32BE(value.length, 0);
  value.copy(body, 4);
  return message(Backend.FunctionCallResponse, body);
}

/** Every form of each secret a value may carry: as given (as is, base64), and as lowercase hex (bytea text output). */
function forms(secrets: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    out.push(secret, Buffer.from(secret.toString("hex"), "latin1"));
  }
  return out;
}

function replaceAll(value: Buffer, needle: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = value.indexOf(needle); at >= 0; at = value.indexOf(needle, from)) {
    parts.push(value.subarray(from, at), WITHHELD);
    from = at + needle.length;
  }
  parts.push(value.subarray(from));
  return Buffer.concat(parts);
}
