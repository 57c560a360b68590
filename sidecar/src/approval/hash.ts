import { createHash } from "node:crypto";

/**
 * The digest a reviewer approves: principal, target, statement text and parameter values, each
 * length-delimited by JSON so no two different statements share an encoding. Buffers (binary
 * parameters) are hex; bigints are decimal strings. `settings`: what else changes the statement's meaning
 * (a Postgres session's DateStyle the agent chose, postgres/reading-settings.ts; its search_path, search-path.ts); absent, the digest is
 * that of the four.
 */
export function approvalHash(principal: string, target: string, sql: string, parameters: unknown[] | undefined, settings?: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify([principal, target, sql, parameters ?? null, ...(settings ? [settings] : [])], (_k, v: unknown) => {
    if (typeof v === "bigint") return { bigint: v.toString() };
    if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer" && Array.isArray((v as { data?: unknown }).data)) {
      return { hex: Buffer.from((v as { data: number[] }).data).toString("hex") };
    }
    return v;
  });
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}
