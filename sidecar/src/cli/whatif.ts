import { parseArgs } from "node:util";
import { failures, formatReport, parseFailOn, whatIf, type FailOnKind } from "../whatif/index.js";

const USAGE = `usage: regate whatif --bundle CANDIDATE [--baseline CURRENT] [--json] [--fail-on KINDS] [--examples N] LOG...
  LOG: decision-log files (JSON lines, plain or gzip); - reads stdin
  exit 0; 2 when a --fail-on kind occurred; 1 on a usage or bundle error
`;

/** Exit status when a change named in --fail-on occurred (1 is taken by errors). */
export const EXIT_FAIL_ON = 2;

export async function whatifCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        bundle: { type: "string", short: "b" },
        baseline: { type: "string" },
        json: { type: "boolean", default: false },
        "fail-on": { type: "string" },
        examples: { type: "string", default: "3" },
      },
    });
  } catch (err) {
    process.stderr.write(`regate whatif: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const examples = Number(values.examples);
  let failOn: FailOnKind[] = [];
  try {
    if (values["fail-on"] !== undefined) failOn = parseFailOn(values["fail-on"]);
  } catch (err) {
    process.stderr.write(`regate whatif: ${(err as Error).message}\n`);
    return 1;
  }
  if (!values.bundle || positionals.length === 0 || !Number.isInteger(examples) || examples < 0) {
    process.stderr.write(USAGE);
    return 1;
  }
  const report = await whatIf({ candidate: values.bundle, ...(values.baseline ? { baseline: values.baseline } : {}), sources: positionals, examples });
  const failed = failures(report, failOn);
  process.stdout.write(values.json ? `${JSON.stringify({ ...report, fail_on: failOn, failed }, null, 2)}\n` : formatReport(report));
  if (failed.length) {
    if (!values.json) process.stdout.write(`\nfailing: ${failed.join(", ")} (--fail-on ${failOn.join(",")})\n`);
    return EXIT_FAIL_ON;
  }
  return 0;
}
