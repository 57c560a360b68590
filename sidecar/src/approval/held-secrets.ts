import { REDACTED, secretTexts } from "../mask/index.js";
import type { Approval } from "./types.js";

// An agent can type a credential regate holds (its own token, another agent's, the upstream password) into a
// statement or a request that needs approval. What reviewers read is then stored (approvals.store: postgres),
// listed on the page and the CLI, and posted to chat: a credential typed there would reach a chat service
// and everyone in the channel. Recordings and decision logs already replace it (recording/scrub.ts); an
// approval is shown the same way, and the reviewer is told. The digest still covers the real text.

/** `a` with every form of `secrets` in what it shows (reason, statement, values, notes) replaced; `a` itself when none is there. */
export function withoutHeldSecrets(a: Approval, secrets: readonly string[]): Approval {
  const forms = secretTexts(secrets);
  if (forms.length === 0) return a;
  let found = 0;
  const scrub = (s: string): string => {
    let out = s;
    for (const f of forms) {
      if (!out.includes(f)) continue;
      const parts = out.split(f);
      found += parts.length - 1;
      out = parts.join(REDACTED);
    }
    return out;
  };
  const walk = (v: unknown): unknown => (typeof v === "string" ? scrub(v) : Array.isArray(v) ? v.map(walk) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)])) : v);
  const reason = scrub(a.reason);
  const statement = walk(a.statement) as Approval["statement"];
  if (found === 0) return a;
  const what = a.kind === "http" ? "request" : "statement";
  const note = `A credential regate holds (an agent's token, a password or key of its own) is in this ${what} ${found > 1 ? `${found} times` : "once"}, shown as ${REDACTED}; approving approves the ${what} with the credential itself in it.`;
  return { ...a, reason, statement: { ...statement, notes: [note, ...(statement.notes ?? [])] } };
}
