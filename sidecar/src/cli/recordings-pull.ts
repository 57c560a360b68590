import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/index.js";
import { isRecordingFile, pullRecordings, storeUpstream } from "../recording/index.js";
import { loadConfigFromArgs } from "./config-arg.js";
import { cliReader, recordingsCommand } from "./recordings.js";

const USAGE = `usage: regate recordings pull --to DIR [--config file] [--replica R] [--session S] [--json]

Fetches recordings from the fleet store (recording.postgres of the config) into DIR/<replica>/, each laid
out as that replica's recording directory; then: regate recordings replay S --dir DIR/<replica>, or
regate recordings verify --dir DIR/<replica> (which also proves the store's copy was not altered).
The pull is noted in the store's recording_reads table (who, what) before anything is fetched.
`;

/** `regate recordings pull`: any machine that can reach the store reads any replica's recordings. */
export async function pullCommand(argv: string[], env: NodeJS.ProcessEnv, quiet = false): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { to: { type: "string" }, config: { type: "string", short: "c" }, replica: { type: "string" }, session: { type: "string" }, json: { type: "boolean" } },
    }));
  } catch (err) {
    process.stderr.write(`regate recordings pull: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (!values.to) {
    process.stderr.write(USAGE);
    return 1;
  }
  try {
    const config = loadConfigFromArgs(values.config, env);
    if (!config.recording.postgres.enabled) {
      process.stderr.write("regate recordings pull: recording.postgres is not enabled in this config: there is no store to pull from\n");
      return 1;
    }
    const pulled = await pullRecordings({
      upstream: storeUpstream(config),
      schema: config.recording.postgres.schema,
      to: values.to,
      reader: cliReader(),
      ...(values.replica ? { replica: values.replica } : {}),
      ...(values.session ? { session: values.session } : {}),
    });
    if (quiet) return pulled.length === 0 ? 2 : 0;
    if (values.json) process.stdout.write(`${JSON.stringify(pulled)}\n`);
    else if (pulled.length === 0) process.stdout.write("nothing in the store matches\n");
    else for (const p of pulled) process.stdout.write(`${p.replica}: ${p.files} recording(s), ${p.records} records -> ${values.to}/${p.replica}\n`);
    return pulled.length === 0 ? 2 : 0;
  } catch (err) {
    const msg = err instanceof ConfigError ? err.message : `${(err as Error).message}${(err as Error).cause ? ` (${((err as Error).cause as Error).message})` : ""}`;
    process.stderr.write(`regate recordings pull: ${msg}\n`);
    return 1;
  }
}

/**
 * `regate recordings show|replay|verify <session> --store [--config file] ...`: the session pulled from the
 * fleet store into a temporary directory, then read there as from its replica's own directory.
 */
export async function fromStoreCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = argv.filter((a) => a !== "--store");
  const [sub, session] = args;
  if (!sub || !["show", "replay", "verify"].includes(sub) || !session || session.startsWith("-")) {
    process.stderr.write("regate recordings: --store reads one session: regate recordings <show|replay|verify> <session> --store [--config file]\n");
    return 1;
  }
  if (args.includes("--follow") || args.includes("--dir")) {
    process.stderr.write("regate recordings: --store cannot be combined with --dir or --follow\n");
    return 1;
  }
  const at = args.indexOf("--config");
  const config = at >= 0 ? args[at + 1] : undefined;
  const to = mkdtempSync(join(tmpdir(), "regate-pulled-"));
  try {
    const code = await pullCommand(["--to", to, "--session", session, "--json", ...(config ? ["--config", config] : [])], env, true);
    if (code !== 0) return code;
    const replicas = readdirSync(to).filter((r) => readdirSync(join(to, r)).some((f) => isRecordingFile(f)));
    if (replicas.length !== 1) {
      process.stderr.write(`regate recordings: ${replicas.length === 0 ? "no recording" : `recordings in ${replicas.length} replicas`} match ${session} in the store${replicas.length ? ": give more of the id" : ""}\n`);
      return 1;
    }
    const rest = args.slice(2).filter((_, i, all) => all[i] !== "--config" && all[i - 1] !== "--config");
    return recordingsCommand([sub, session, "--dir", join(to, replicas[0]!), ...rest], env);
  } finally {
    rmSync(to, { recursive: true, force: true });
  }
}
