import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { startApp } from "../app.js";
import { runPrimary, SLOT_ENV, workerRole, type ClusterRole } from "../cluster/index.js";
import { ConfigError, workerCount } from "../config/index.js";
import { createLogger, destinationOf, whenWritten } from "../log.js";
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
  const workers = workerCount(config);
  if (workers > 1 && cluster.isPrimary) {
    // The primary writes whole lines only, its own included, so that they never split a worker's.
    const log = createLogger({ level: config.log.level, destination: { write: (s: string) => void process.stdout.write(s) } });
    return runPrimary({ workers, drainTimeoutMs: config.admin.drain_timeout_ms, log });
  }
  const log = createLogger({ level: config.log.level });
  let role: ClusterRole | undefined;
  if (workers > 1) {
    const slot = Number(env[SLOT_ENV]);
    if (!Number.isInteger(slot) || slot < 0 || slot >= workers) throw new Error(`worker started without a valid ${SLOT_ENV}`);
    role = workerRole(slot, workers, log.child({ component: "cluster", slot }));
  }
  const app = await startApp({ config, log, ...(role ? { cluster: role } : {}) }).catch((err: unknown) => {
    log.fatal({ err }, "regate could not start");
    // A worker's IPC channel would keep it alive: leave once the line is out, and let the primary see it.
    if (role) void whenWritten(destinationOf(log), 2000).then(() => process.exit(1));
    throw err;
  });
  role?.ready();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drain_timeout_ms: config.admin.drain_timeout_ms }, "draining");
    app.close().then(
      () => {
        log.info("stopped");
        // Leave once the log's last write has landed (lines still waiting at exit are lost); a destination
        // that stops taking lines holds the exit for at most 2 s after its last progress.
        void whenWritten(destinationOf(log), 2000).then(() => process.exit(0));
      },
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // A worker whose primary is gone has no one to restart or route for it: drain and leave.
  if (role) process.once("disconnect", () => stop("primary gone"));
  return undefined;
}
