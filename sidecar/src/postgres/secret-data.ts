import { Backend, BODY, type Frame } from "./protocol/index.js";

// regate's upstream password in what the server sends as data: a row of a table an operator keeps it in, the
// text of another session's ALTER ROLE … PASSWORD in pg_stat_activity, a NOTIFY payload. Errors and notices
// quote it as "[regate secret withheld]" (mask-rows.ts), a FunctionCall's result too (function-call.ts);
// everything else the server sends has each of its forms overwritten with "*", byte for byte, so lengths and
// framing hold. Only for a password of MIN_LENGTH characters or more: a weak one ("postgres") spells names the
// agent reads every day (the database's, a role's), and overwriting those would break sessions while hiding
// nothing an agent could not guess.

export const MIN_LENGTH = 12;
const STAR = 0x2a;

/** Which messages keep their own treatment: errors, notices, a FunctionCall's result. */
const OWN_TREATMENT = new Set<number>([Backend.ErrorResponse, Backend.NoticeResponse, Backend.FunctionCallResponse]);

/** The forms to overwrite in data for this password's forms (none for a short password). */
export function dataSecretForms(secret: string | undefined, forms: readonly Buffer[]): readonly Buffer[] {
  return secret !== undefined && secret.length >= MIN_LENGTH ? forms : [];
}

/** Whether any form appears in `bytes`: one search per form over a chunk as read, before it is cut into messages. */
export function holdsSecret(bytes: Buffer, forms: readonly Buffer[]): boolean {
  for (const form of forms) if (bytes.includes(form)) return true;
  return false;
}

/** Overwrites every form in the message's body, in place (the message is forwarded from the same bytes). */
export function starSecrets(f: Frame, forms: readonly Buffer[]): void {
  if (OWN_TREATMENT.has(f.type)) return;
  const raw = f.raw;
  // Longest first (secretForms): a form inside a longer one is overwritten with it.
  for (const form of forms) {
    for (let at = raw.indexOf(form, BODY); at >= 0; at = raw.indexOf(form, at + form.length)) raw.fill(STAR, at, at + form.length);
  }
}
