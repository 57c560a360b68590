import type { Example, Group, Report } from "./report.js";
import type { Verdict } from "./verdict.js";

/** The report for a person: counts first, then each change kind with its groups and examples. */
export function formatReport(r: Report): string {
  const out: string[] = [];
  const baseline = r.baseline === "logged decisions" ? "the logged decisions" : `${r.baseline.bundle} (revision ${r.baseline.revision})`;
  out.push(`candidate ${r.candidate.bundle} (revision ${r.candidate.revision}) against ${baseline}`);
  const changed = r.compared - r.unchanged;
  out.push(
    `${r.decisions} decisions (${r.lines_skipped} other lines skipped): ${r.compared} compared, ${r.unchanged} unchanged, ${changed} changed; ` +
      `${r.partial_input.count} partial input, ${r.not_reproducible.count} not reproducible` +
      (r.unusable.count ? `, ${r.unusable.count} unusable` : ""),
  );
  for (const [kind, g] of Object.entries(r.changes)) {
    out.push("", `${kind}: ${g.count}`, "  by reason:");
    for (const group of g.by_reason) out.push(...groupLines(group));
    out.push("  by principal:");
    for (const group of g.by_principal) out.push(...groupLines(group));
  }
  if (r.partial_input.count) {
    const kinds = Object.entries(r.partial_input.changes).map(([k, n]) => `${k} ${n}`);
    out.push("", `partial input (fields erased or masked in the log; evaluated as logged, not counted above): ${r.partial_input.count}`);
    if (kinds.length) out.push(`  would appear as: ${kinds.join(", ")}`);
    for (const e of r.partial_input.examples) {
      const what = [...e.erased.map((p) => `erased ${p}`), ...e.masked.map((p) => `masked ${p}`)].join(", ");
      out.push(`    ${example(e)}`, `      ${what}${e.change ? `; would appear as ${e.change}` : ""}${e.reproduced ? "" : "; baseline does not reproduce it"}`);
    }
  }
  if (r.not_reproducible.count) {
    out.push("", `not reproducible (the baseline decides otherwise than the log says; not counted above): ${r.not_reproducible.count}`);
    for (const e of r.not_reproducible.examples) {
      out.push(`    ${example(e)}`, `      logged ${verdict(e.logged)} (revision ${e.logged_revision || "?"}); baseline ${verdict(e.baseline)}`);
    }
  }
  if (r.unusable.count) {
    out.push("", `unusable decision-log events: ${r.unusable.count}`);
    for (const u of r.unusable.examples) out.push(`    ${u.at}: ${u.why}`);
  }
  return `${out.join("\n")}\n`;
}

function groupLines(g: Group): string[] {
  return [`    ${String(g.count).padStart(4)}  ${g.key}`, ...g.examples.map((e) => `            ${example(e)}`)];
}

function example(e: Example): string {
  return `${e.principal}: ${e.statement}  [${e.at} ${e.decision_id}]`;
}

function verdict(v: Verdict): string {
  const detail = v.outcome === "allow" ? (v.masks.length ? ` with ${v.masks.length} masks` : "") : ` (${v.reasons.join("; ")})`;
  return `${v.outcome}${detail}`;
}
