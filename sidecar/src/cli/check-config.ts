import { parseArgs } from "node:util";
import { ConfigError } from "../config/index.js";
import { loadConfigFromArgs } from "./config-arg.js";

export async function checkConfigCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } });
  try {
    const cfg = loadConfigFromArgs(values.config, env);
    // Secret.toJSON redacts every secret: this print cannot leak one.
    process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
