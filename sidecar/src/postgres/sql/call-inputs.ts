import { merge, type Lin } from "./lineage.js";
import { rowsLin, sink } from "./relate.js";
import type { Cx, Scope } from "./scope.js";

/**
 * What flows into a function matters when the function has effects (pg_notify, set_config, nextval ...): its
 * arguments, and how many times it runs, which is what chose the rows of its level (a sequence moved once
 * per row of `generate_series(1, <masked value>)` keeps the value). Recorded again when the level ends.
 */
export function callInputs(cx: Cx, scope: Scope, schema: string | null, name: string, args: Lin, unknown: boolean): void {
  sink(scope, merge([args, rowsLin(scope)], true), (l) => cx.facts.addFunction({ schema, name, inputs: l.cols.map((c) => ({ ...c })), inputs_unknown: unknown || l.unknown }));
}
