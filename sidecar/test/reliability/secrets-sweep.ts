// The secrets sweep, run after the whole suite (make test-ts, after vitest):
//
//   npx tsx sidecar/test/reliability/secrets-sweep.ts [--keep]
//
// Searches everything regate wrote under build/test-output/ for every configured secret and every protected
// demo value (sweep.ts). Exit 1 on any hit, or when there is nothing to search. On success the swept
// outputs are removed (unless --keep), so the next run sweeps its own; on failure they stay for a look.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";
import { TEST_OUTPUT_ROOT } from "../support/test-output.js";
import { protectedDemoValues, sweep } from "./sweep.js";

const t0 = performance.now();
let report;
try {
  report = sweep(TEST_OUTPUT_ROOT, protectedDemoValues(readFileSync(join(packageRoot, "testdata", "demo", "seed.sql"), "utf8")));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
const mb = Math.round(report.bytes / 1048576);
process.stdout.write(
  `secrets sweep: ${report.files} files (${mb} MB) from ${report.manifests} regate runs, ${report.secrets} configured secrets and ` +
    `${report.protectedValues} protected demo values: ${report.hits.length} hits (${Math.round(performance.now() - t0)} ms)\n`,
);
if (report.hits.length) {
  for (const h of report.hits.slice(0, 50)) process.stderr.write(`  ${h.file}: ${h.what}\n`);
  process.stderr.write(`outputs kept in ${TEST_OUTPUT_ROOT}\n`);
  process.exit(1);
}
if (!process.argv.includes("--keep")) rmSync(TEST_OUTPUT_ROOT, { recursive: true, force: true });
