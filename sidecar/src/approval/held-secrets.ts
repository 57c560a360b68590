import { REDACTED } from "../mask/index.js";
import { scrubSecretsCounted, secretForms } from "../recording/scrub.js";
import type { Approval } from "./types.js";

// An agent can type a credential regate holds (its own token, another agent's, the upstream password) into a
// statement or a request that needs approval. What reviewers read is then stored (approvals.store: postgres),
// listed on the page and the CLI, and posted to chat: a credential typed there would reach a chat service
// and everyone in the channel. Recordings and decision logs already replace it (recording/scrub.ts); an
// approval is shown the same way, and the reviewer is told. The digest still covers the real text.

/** `a` with every form of `secrets` in what it shows (reason, statement, values, notes) replaced; `a` itself when none is there. */
export function withoutHeldSecrets(a: Approval, secrets: readonly string[]): Approval {
  const forms = secretForms(secrets);
  const reason = scrubSecretsCounted(a.reason, forms);
  const statement = scrubSecretsCounted(a.statement, forms);
  const found = reason.found + statement.found;
  if (found === 0) return a;
  const what = a.kind === "http" ? "request" : "statement";
  const note = `A credential regate holds (an agent's token, a password or key of its own) is in this ${what} ${found > 1 ? `${found} times` : "once"}, shown as ${REDACTED}; approving approves the ${what} with the credential itself in it.`;
  return { ...a, reason: reason.value, statement: { ...statement.value, notes: [note, ...(statement.value.notes ?? [])] } };
}
