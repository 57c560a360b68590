import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { defaultOptions, InjectError, injectManifest, optionProblems, type InjectOptions } from "../inject/index.js";

const usage = (): string => `usage: regate inject [-f manifest.yaml] [options] > injected.yaml

Adds the regate sidecar (an init container with restartPolicy Always) to every Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job and CronJob in a manifest; other documents pass through.
Reads stdin without -f (or with -f -). Already injected workloads are left as they are.

options:
  -f, --file FILE              the manifest (multi-document YAML)
  --image IMAGE                the regate image (default ${defaultOptions().image})
  --config-map NAME            ConfigMap holding regate.yaml (default regate-config)
  --policy-config-map NAME     ConfigMap holding bundle.tar.gz (default regate-policy)
  --secret NAME                Secret whose keys become regate's environment (default regate-secrets)
`;

export async function injectCommand(argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: "string", short: "f" },
        image: { type: "string" },
        "config-map": { type: "string" },
        "policy-config-map": { type: "string" },
        secret: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`regate inject: ${(err as Error).message}\n${usage()}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  const defaults = defaultOptions();
  const options: InjectOptions = {
    image: values.image ?? defaults.image,
    configMap: values["config-map"] ?? defaults.configMap,
    policyConfigMap: values["policy-config-map"] ?? defaults.policyConfigMap,
    secret: values.secret ?? defaults.secret,
  };
  const problems = optionProblems(options);
  if (problems.length) {
    process.stderr.write(`regate inject: ${problems.join("\nregate inject: ")}\n`);
    return 1;
  }

  const file = values.file ?? "-";
  if (file === "-" && process.stdin.isTTY) {
    process.stderr.write(`regate inject: no manifest: give -f FILE or pipe one in\n${usage()}`);
    return 1;
  }
  let source: string;
  try {
    source = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (err) {
    process.stderr.write(`regate inject: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }

  try {
    const out = injectManifest(source, options, file === "-" ? "stdin" : file);
    process.stdout.write(out.text);
    for (const w of out.warnings) process.stderr.write(`regate inject: warning: ${w}\n`);
    if (out.objects.length === 0) process.stderr.write("regate inject: warning: no workload found; the manifest is unchanged\n");
    return 0;
  } catch (err) {
    if (err instanceof InjectError) {
      process.stderr.write(`regate inject: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
