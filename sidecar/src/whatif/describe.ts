/** What a person reading the report recognises a decision by: who asked, and what for. */

const MAX_STATEMENT = 200;

export function principalOf(input: unknown): string {
  const subject = (input as { session?: { principal?: { subject?: unknown } } } | undefined)?.session?.principal?.subject;
  return typeof subject === "string" ? subject : "(no principal in the logged input)";
}

/** The SQL of a Postgres input, "METHOD path" (and the MCP tool) of an HTTP one; cut at 200 characters. */
export function statementOf(input: unknown): string {
  const i = (input ?? {}) as { kind?: unknown; postgres?: PgPart; http?: HttpPart };
  let text: string | undefined;
  if (i.kind === "postgres" && i.postgres) {
    const sql = (i.postgres.statements ?? []).map((s) => s?.sql).filter((s): s is string => typeof s === "string" && s !== "");
    text = sql.length ? sql.join("; ") : i.postgres.message ? `(${i.postgres.message} message)` : undefined;
  } else if (i.kind === "http" && i.http) {
    const tool = typeof i.http.mcp?.tool === "string" ? ` (MCP ${i.http.mcp.method ?? "call"} ${i.http.mcp.tool})` : "";
    text = `${String(i.http.method ?? "?")} ${String(i.http.path ?? "?")}${tool}`;
  }
  if (text === undefined) return "(no statement in the logged input)";
  return text.length > MAX_STATEMENT ? `${text.slice(0, MAX_STATEMENT - 1)}…` : text;
}

interface PgPart {
  message?: string;
  statements?: ({ sql?: unknown } | null)[];
}

interface HttpPart {
  method?: unknown;
  path?: unknown;
  mcp?: { method?: string; tool?: unknown };
}
