import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DecisionPipeline, type Decision, type PolicyInput } from "../decision/index.js";
import { DEFAULT_EVAL_TIMEOUT_MS, PolicyStore } from "../policy/index.js";
import { packageRoot } from "../paths.js";
import { loadConfigFromArgs } from "./config-arg.js";

export const EXIT_BY_OUTCOME = { allow: 0, deny: 2, approve: 3 } as const;

export async function evalCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { input: { type: "string", short: "i" }, bundle: { type: "string", short: "b" }, config: { type: "string", short: "c" } },
  });
  if (!values.input) {
    process.stderr.write("usage: regate eval --input x.json [--bundle b.tar.gz] [--config file]\n");
    return 1;
  }
  // Without --config, eval needs no secrets: the default bundle path and entrypoint are enough.
  const policy = values.config
    ? loadConfigFromArgs(values.config, env).policy
    : { bundle: join(packageRoot, "build", "bundle.tar.gz"), entrypoint: "regate/decision", eval_timeout_ms: DEFAULT_EVAL_TIMEOUT_MS };
  // Budgeted as regate run would evaluate it: a policy that loops answers POLICY_EVAL_TIMEOUT instead of hanging.
  const store = new PolicyStore(values.bundle ?? policy.bundle, { evalTimeoutMs: policy.eval_timeout_ms });
  await store.load();
  const doc = JSON.parse(await readFile(values.input, "utf8")) as Record<string, unknown>;
  // A golden case file ({name, input, expect}) works as well as a bare input document.
  const input = ("kind" in doc ? doc : doc["input"]) as PolicyInput;
  const pipeline = new DecisionPipeline({ policy: () => store.active, entrypoint: policy.entrypoint, dryRun: false, sinks: [] });
  const decision: Decision = pipeline.decide(input);
  store.close();
  process.stdout.write(`${JSON.stringify(decision, null, 2)}\n`);
  return EXIT_BY_OUTCOME[decision.outcome];
}
