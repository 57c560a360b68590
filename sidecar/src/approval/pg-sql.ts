import { literal } from "../postgres/simple-query.js";
import { storeTablesSql } from "../postgres/store-tables.js";
import type { Approval, Vote } from "./types.js";

// The SQL of the shared approval store (pg-store.ts). Every transition is one UPDATE that names the
// state it leaves (`status = 'pending'`, `used_at IS NULL`): the row lock orders concurrent writers and
// the loser's WHERE, re-checked on the new row, no longer matches. Each change NOTIFYs the id only.

export const APPROVALS_CHANNEL = "regate_approvals";
export const APPROVALS_TABLE = "approval_requests";

/** A backend still connected: the holder of an approval is its replica's LISTEN connection. */
const holderAlive = "EXISTS (SELECT 1 FROM pg_stat_activity s WHERE s.pid = held_by)";

/** Created by the first regate that starts. */
export function approvalsTableSql(schema: string): string {
  const t = `${schema}.${APPROVALS_TABLE}`;
  return storeTablesSql(
    schema,
    "approvals",
    `CREATE TABLE IF NOT EXISTS ${t} (
  id text PRIMARY KEY,
  sha256 text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'refused', 'expired', 'withdrawn', 'abandoned')),
  principal text NOT NULL,
  requested_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  decided_at timestamptz,
  reviewer text,
  comment text,
  votes jsonb NOT NULL DEFAULT '[]',
  min_votes integer NOT NULL,
  grant_seconds double precision NOT NULL,
  held_by integer,
  grant_expires_at timestamptz,
  used_at timestamptz,
  doc jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS ${APPROVALS_TABLE}_pending ON ${t} (sha256) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS ${APPROVALS_TABLE}_grants ON ${t} (sha256) WHERE status = 'approved' AND used_at IS NULL;
CREATE INDEX IF NOT EXISTS ${APPROVALS_TABLE}_decided ON ${t} (decided_at);`,
  );
}

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** One approval as a JSON text column: the document written at creation, overlaid by what changes. */
const row = `(doc || jsonb_build_object('id', id, 'status', status, 'sha256', sha256, 'principal', principal, 'requested_at', ${ts("requested_at")}, 'expires_at', ${ts("expires_at")}, 'decided_at', ${ts("decided_at")}, 'reviewer', reviewer, 'comment', comment, 'votes', votes, 'min', min_votes, 'grant_expires_at', ${ts("grant_expires_at")}, 'used_at', ${ts("used_at")}))::text`;

/** Runs `update` (an UPDATE … RETURNING *) and NOTIFYs each changed id. */
const notifying = (update: string) => `WITH t AS (${update} RETURNING *) SELECT ${row}, pg_notify(${literal(APPROVALS_CHANNEL)}, id) FROM t`;

const OPTIONAL = ["decided_at", "reviewer", "comment", "grant_expires_at", "used_at"] as const;

export function parseRow(text: string | null | undefined): Approval {
  const a = JSON.parse(text ?? "null") as Approval & Record<string, unknown>;
  for (const k of OPTIONAL) if (a[k] === null) delete a[k];
  return a;
}

/** JSON for a jsonb literal: bigints as text, NUL (which jsonb refuses) as U+FFFD. The digest is computed elsewhere. */
export function jsonLiteral(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : typeof x === "string" && x.includes("\0") ? x.replace(/\0/g, "\uFFFD") : x));
  return `${literal(text)}::jsonb`;
}

export class ApprovalSql {
  readonly t: string;
  constructor(schema: string) {
    this.t = `${schema}.${APPROVALS_TABLE}`;
  }

  insert(a: Approval, min: number, grantSeconds: number, heldBy: number | undefined): string {
    return `INSERT INTO ${this.t} (id, sha256, status, principal, requested_at, expires_at, votes, min_votes, grant_seconds, held_by, doc) VALUES (${literal(a.id)}, ${literal(a.sha256)}, 'pending', ${literal(a.principal)}, ${literal(a.requested_at)}, ${literal(a.expires_at)}, '[]', ${min}, ${grantSeconds}, ${heldBy ?? "NULL"}, ${jsonLiteral(a)}); SELECT pg_notify(${literal(APPROVALS_CHANNEL)}, ${literal(a.id)})`;
  }

  byId(id: string): string {
    return `SELECT ${row} FROM ${this.t} WHERE id = ${literal(id)}`;
  }

  pendingFor(sha256: string): string {
    return `SELECT ${row} FROM ${this.t} WHERE sha256 = ${literal(sha256)} AND status = 'pending' AND expires_at > now() ORDER BY requested_at DESC LIMIT 1`;
  }

  /** Every pending approval and the last `history` finished ones (the mirror). */
  recent(history: number): string {
    return `SELECT ${row} FROM ${this.t} WHERE status = 'pending' UNION ALL (SELECT ${row} FROM ${this.t} WHERE status <> 'pending' ORDER BY decided_at DESC LIMIT ${history})`;
  }

  /** Held by `pid` when nobody (alive) holds it; or released by its holder. */
  hold(id: string, pid: number | undefined, held: boolean): string {
    if (held) return notifying(`UPDATE ${this.t} SET held_by = ${pid ?? "NULL"} WHERE id = ${literal(id)} AND status = 'pending' AND ${pid ?? "NULL"} IS NOT NULL AND (held_by IS NULL OR NOT ${holderAlive})`);
    return notifying(`UPDATE ${this.t} SET held_by = NULL WHERE id = ${literal(id)} AND status = 'pending' AND held_by = ${pid ?? "NULL"}`);
  }

  /**
   * One distinct reviewer's vote on a live approval; the vote that reaches the quorum approves it. An
   * approval with a living holder is approved for that holder; one nobody holds becomes a grant.
   */
  vote(id: string, v: Vote): string {
    const quorum = "jsonb_array_length(votes) + 1 >= min_votes";
    const r = literal(v.reviewer);
    return notifying(`UPDATE ${this.t} SET votes = votes || jsonb_build_array(${jsonLiteral(v)}),
  status = CASE WHEN ${quorum} THEN 'approved' ELSE 'pending' END,
  decided_at = CASE WHEN ${quorum} THEN now() END,
  reviewer = CASE WHEN ${quorum} THEN ${r} END,
  comment = CASE WHEN ${quorum} THEN ${v.comment ? literal(v.comment) : "NULL"} END,
  grant_expires_at = CASE WHEN ${quorum} AND held_by IS NULL THEN now() + grant_seconds * interval '1 second' END
WHERE id = ${literal(id)} AND status = 'pending' AND expires_at > now()
  AND NOT votes @> jsonb_build_array(jsonb_build_object('reviewer', ${r}))
  AND (held_by IS NULL OR ${holderAlive})`);
  }

  finish(id: string, status: string, reviewer?: string, comment?: string): string {
    return notifying(
      `UPDATE ${this.t} SET status = ${literal(status)}, decided_at = now(), reviewer = ${reviewer ? literal(reviewer) : "NULL"}, comment = ${comment ? literal(comment) : "NULL"} WHERE id = ${literal(id)} AND status = 'pending'`,
    );
  }

  /** The held run of an approval approved for its holder: once. */
  use(id: string): string {
    return notifying(`UPDATE ${this.t} SET used_at = now() WHERE id = ${literal(id)} AND status = 'approved' AND used_at IS NULL AND grant_expires_at IS NULL`);
  }

  /** The identical re-run allowed by a grant, whose names resolve to the objects approved: once, whichever replica asks first. */
  takeGrant(sha256: string, objects: string | undefined): string {
    const same = `doc->>'objects' ${objects === undefined ? "IS NULL" : `= ${literal(objects)}`}`;
    return notifying(
      `UPDATE ${this.t} SET used_at = now() WHERE id = (SELECT id FROM ${this.t} WHERE sha256 = ${literal(sha256)} AND ${same} AND status = 'approved' AND used_at IS NULL AND grant_expires_at > now() ORDER BY decided_at DESC LIMIT 1 FOR UPDATE SKIP LOCKED) AND used_at IS NULL`,
    );
  }

  /** A lock: the grant ends now, unused, whichever replica would have taken it. */
  revokeGrant(id: string): string {
    return notifying(`UPDATE ${this.t} SET grant_expires_at = now() WHERE id = ${literal(id)} AND status = 'approved' AND used_at IS NULL AND grant_expires_at > now()`);
  }

  /** Any replica: approvals past their expiry end expired; those whose holder's connection is gone end abandoned. */
  sweep(): string {
    return notifying(
      `UPDATE ${this.t} SET status = CASE WHEN expires_at <= now() THEN 'expired' ELSE 'abandoned' END, decided_at = now(),
  comment = CASE WHEN expires_at <= now() THEN NULL ELSE 'the replica holding the statement is gone' END
WHERE status = 'pending' AND (expires_at <= now() OR (held_by IS NOT NULL AND NOT ${holderAlive}))`,
    );
  }
}
