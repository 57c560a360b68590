// Regenerates testdata/golden/opa/cases.json from testdata/golden/sources.yaml (npx tsx scripts/golden.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { buildGoldenCases, CASES_FILE, goldenFileText } from "../sidecar/test/support/golden.js";

const cases = await buildGoldenCases();
mkdirSync(dirname(CASES_FILE), { recursive: true });
writeFileSync(CASES_FILE, goldenFileText(cases));
console.log(`${CASES_FILE}: ${cases.length} cases`);
