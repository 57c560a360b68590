import type { Report } from "./report.js";
import { CHANGE_KINDS, type ChangeKind } from "./verdict.js";

/** Besides the change kinds: "any" change, and the two kinds of decision whatif cannot judge. */
export const FAIL_ON_KINDS = [...CHANGE_KINDS, "any", "partial-input", "not-reproducible"] as const;
export type FailOnKind = (typeof FAIL_ON_KINDS)[number];

/** "deny-to-allow,allow-to-deny" -> the kinds; throws with the list of valid names on a typo. */
export function parseFailOn(text: string): FailOnKind[] {
  const kinds = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = kinds.filter((k) => !(FAIL_ON_KINDS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`--fail-on: unknown kind ${bad.join(", ")}; known: ${FAIL_ON_KINDS.join(", ")}`);
  return kinds as FailOnKind[];
}

/** The kinds of `failOn` the report holds at least one of; partial inputs and other changes do not count. */
export function failures(report: Report, failOn: readonly FailOnKind[]): FailOnKind[] {
  return failOn.filter((kind) => {
    if (kind === "any") return Object.keys(report.changes).length > 0;
    if (kind === "partial-input") return report.partial_input.count > 0;
    if (kind === "not-reproducible") return report.not_reproducible.count > 0;
    return (report.changes[kind as ChangeKind]?.count ?? 0) > 0;
  });
}
