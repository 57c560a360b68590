import { randomUUID } from "node:crypto";
import { visible } from "./visible.js";

/** PostgreSQL's own default: a statement run under it needs no word about schemas, and its digest is unchanged. */
const DEFAULT_PATH = ["$user", "public"] as const;

export interface PathTerms {
  /** Joins the digest's settings; absent under the default path. */
  digest?: string;
  /** What the reviewer must read first. */
  note?: string;
}

/**
 * The search_path a statement's unqualified names resolve in is part of what a reviewer approves: the
 * same text reads another schema's `rates` or calls another `round` under another path, and a grant's
 * re-run may come from a session whose path the agent chose since (SET, set_config, ALTER ROLE … SET, a
 * startup option). So the path joins the digest, and a re-run uses a grant only under the path it was
 * approved under. A path regate cannot know gets a digest no later statement shares: the approval can
 * still release the statement held under it, never a re-run.
 */
export function searchPathTerms(path: readonly string[] | null | undefined): PathTerms {
  if (path === undefined) return {};
  if (path === null) {
    return {
      digest: `unknown ${randomUUID()}`,
      note: "regate cannot tell which schemas this statement's unqualified names resolve in (the agent's connection set search_path in a way regate cannot read). Approving it releases only the statement held now; a later re-run asks again. Read every unqualified name as possibly another schema's.",
    };
  }
  if (path.length === DEFAULT_PATH.length && path.every((p, i) => p === DEFAULT_PATH[i])) return {};
  return {
    digest: JSON.stringify(path),
    note: `The server resolves this statement's unqualified names under the search_path the agent's connection chose: ${path.map(shownName).join(", ")} (pg_catalog${path.includes("pg_catalog") ? " where listed" : " first"}, then temporary tables first unless pg_temp is listed). A table or function named without a schema may be another schema's than public's.`,
  };
}

/**
 * A schema name as the reviewer reads it in the note: quoted as PostgreSQL quotes an identifier unless it is
 * a plain lowercase one, then marked by `visible`. Joined bare, the one schema `"internal, public"` read as
 * two, and a name with a right-to-left override reversed the rest of the note.
 */
function shownName(name: string): string {
  const quoted = /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
  return visible(quoted).text;
}
