// The regate command line for tests that run it as its own process.
//
// Through tsx, every regate process spends about 2 s of CPU compiling its own sources before it listens (its
// evaluation worker and its cluster workers again); a suite that starts a hundred of them pays minutes. The
// suite's global setup (global-setup.ts) transpiles sidecar/src once per run and names the output in
// COMPILED_REGATE_MAIN; without it (a script, a benchmark) regate runs from source through tsx. Both run the same
// sources of this checkout: the compiled copy is made from them at the start of the run.
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";

export const MAIN_SOURCE = join(packageRoot, "sidecar", "src", "main.ts");

/** Arguments for `node` that start regate's CLI with `args`. */
export function regateArgv(...args: string[]): string[] {
  const compiled = process.env["COMPILED_REGATE_MAIN"];
  return compiled ? [compiled, ...args] : ["--import", "tsx", MAIN_SOURCE, ...args];
}
