import { approvalsCommand } from "./approvals.js";
import { catalogHooksCommand } from "./catalog-hooks.js";
import { checkConfigCommand } from "./check-config.js";
import { evalCommand } from "./eval.js";
import { recordingsCommand } from "./recordings.js";
import { followCommand } from "./recordings-follow.js";
import { fromStoreCommand, pullCommand } from "./recordings-pull.js";
import { injectCommand } from "./inject.js";
import { locksCommand } from "./locks.js";
import { runCommand } from "./run.js";
import { sessionsCommand } from "./sessions.js";
import { statusCommand } from "./status.js";
import { whatifCommand } from "./whatif.js";

const USAGE = `usage: regate <command> [options]

commands:
  run --config regate.yaml        start the sidecar (without --config: the embedded default)
  check-config --config file      validate a config; print it normalized, secrets redacted
  eval --input x.json [--bundle b.tar.gz] [--config file]
                                  print the decision; exit 0 allow, 2 deny, 3 approval required
  inject [-f manifest.yaml]       add the regate sidecar to a Deployment/Pod manifest (stdin by default)
  status [--url URL] [--config file] [--json]
                                  a running sidecar's bundle status (revision, last activation, last error)
  whatif --bundle candidate.tar.gz [--baseline current.tar.gz] [--json] [--fail-on kinds] log...
                                  replay decision logs against a candidate bundle; report what would change
  recordings <list|show|replay|verify|pull> [--dir D] [--config file] [--json]
                                  session recordings: list, print, replay as a timeline, verify hash chains,
                                  pull from the fleet store
  approvals <list|show|approve|refuse> [ID] [--comment C] [--url URL] [--token-file F]
                                  review held statements through the admin listener (docs/approvals.md)
  sessions <list|kill> [ID] [--reason R] [--url URL] [--token-file F] [--json]
                                  live Postgres sessions; kill one (docs/incident-response.md)
  locks <list|add|remove> [--principal P|--group G|--token ID|--session ID] [--message M] [--ttl S]
                                  lock an agent out now, without a restart; lift a lock
  catalog-hooks [--schema S] [--apply DATABASE_URL]
                                  print (or install) the event triggers that tell regate of DDL at once
`;

/** Returns the process exit code, or undefined for a long-running command that keeps the process alive. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return runCommand(rest, env);
    case "check-config":
      return checkConfigCommand(rest, env);
    case "eval":
      return evalCommand(rest, env);
    case "inject":
      return injectCommand(rest, env);
    case "status":
      return statusCommand(rest, env);
    case "whatif":
      return whatifCommand(rest);
    case "recordings":
      if (rest[0] === "pull") return pullCommand(rest.slice(1), env);
      if (rest.includes("--store")) return fromStoreCommand(rest, env);
      return rest[0] === "replay" && rest.includes("--follow") ? followCommand(rest, env) : recordingsCommand(rest, env);
    case "approvals":
      return approvalsCommand(rest, env);
    case "sessions":
      return sessionsCommand(rest, env);
    case "locks":
      return locksCommand(rest, env);
    case "catalog-hooks":
      return catalogHooksCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`regate: unknown command ${command}\n${USAGE}`);
      return 1;
  }
}
