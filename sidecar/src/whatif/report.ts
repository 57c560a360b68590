import type { ChangeKind, Verdict } from "./verdict.js";

/** One decision shown as an example: enough to find it in the log and to recognise it. */
export interface Example {
  decision_id: string;
  /** "file:line" of the decision-log line. */
  at: string;
  principal: string;
  statement: string;
}

export interface Group {
  key: string;
  count: number;
  examples: Example[];
}

export interface ChangeGroup {
  count: number;
  /** Keyed by what differs ("+ reason" new in the candidate, "- reason" gone); a decision may count in several. */
  by_reason: Group[];
  by_principal: Group[];
}

export interface PartialExample extends Example {
  erased: string[];
  masked: string[];
  /** What the candidate would change, judged on the input as logged; absent when nothing. */
  change?: ChangeKind;
  /** False when the baseline does not reproduce the logged decision from the partial input. */
  reproduced: boolean;
}

export interface NotReproducibleExample extends Example {
  logged_revision: string;
  logged: Verdict;
  baseline: Verdict;
}

export interface Report {
  candidate: { bundle: string; revision: string };
  /** Without --baseline, the logged decisions are the baseline. */
  baseline: { bundle: string; revision: string } | "logged decisions";
  /** Decision-log events read. */
  decisions: number;
  /** Lines that were not decision-log events. */
  lines_skipped: number;
  /** Decisions with a complete input that the baseline reproduced (or all of them, without --baseline). */
  compared: number;
  unchanged: number;
  changes: Partial<Record<ChangeKind, ChangeGroup>>;
  /** Inputs the decision-log mask erased or rewrote: evaluated as logged, never counted as changes. */
  partial_input: { count: number; changes: Partial<Record<ChangeKind, number>>; examples: PartialExample[] };
  /** The baseline decides a complete input otherwise than the log says (another bundle was running, say). */
  not_reproducible: { count: number; examples: NotReproducibleExample[] };
  /** Decision-log events without what whatif needs (regate's `outcome`, an `input`). */
  unusable: { count: number; examples: { at: string; why: string }[] };
}

/** Collects groups with their counts and first few examples. */
export class Grouper {
  readonly #groups = new Map<string, Group>();
  constructor(private readonly maxExamples: number) {}

  add(key: string, example: Example): void {
    let g = this.#groups.get(key);
    if (!g) this.#groups.set(key, (g = { key, count: 0, examples: [] }));
    g.count++;
    if (g.examples.length < this.maxExamples) g.examples.push(example);
  }

  /** Largest group first; ties by key, so a report is stable. */
  list(): Group[] {
    return [...this.#groups.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
