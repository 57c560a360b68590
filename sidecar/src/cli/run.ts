import { parseArgs } from "node:util";
import { startApp } from "../app.js";
import { ConfigError } from "../config/index.js";
import { createLogger } from "../log.js";
import { loadConfigFromArgs } from "./config-arg.js";

/** Starts the sidecar; SIGTERM/SIGINT drain it. Resolves undefined: the process lives on its listeners. */
export async function runCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } });
  let config;
  try {
    config = loadConfigFromArgs(values.config, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = createLogger({ level: config.log.level });
  const app = await startApp({ config, log }).catch((err: unknown) => {
    log.fatal({ err }, "regate could not start");
    log.flush();
    throw err;
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drain_timeout_ms: config.admin.drain_timeout_ms }, "draining");
    app.close().then(
      () => {
        log.info("stopped");
        log.flush();
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return undefined;
}
