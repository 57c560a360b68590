import { parseArgs } from "node:util";
import { ADMIN_OPTIONS, adminClient, apiFailed, stdio, type Out } from "./admin-client.js";
import { field, fieldLine, jsonOut } from "./shown.js";

const USAGE = `usage: regate sessions list [--json]
       regate sessions kill ID --reason TEXT
options: --url http://127.0.0.1:9187 (else from --config) --token-file F (else env REGATE_RESPONDER_TOKEN)
`;

/**
 * A responder's view of live Postgres sessions, and the kill switch for one (docs/incident-response.md).
 * Exit 0 done, 1 usage or transport error, 2 the API refused (no such session).
 */
export async function sessionsCommand(argv: string[], env: NodeJS.ProcessEnv, io: Out = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...ADMIN_OPTIONS, reason: { type: "string", short: "r" }, json: { type: "boolean" } },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [action, id] = positionals;
  if (!(action === "list" || (action === "kill" && id && values.reason?.trim()))) {
    io.err(action === "kill" && id ? `regate sessions kill: --reason is required (the agent is told it)\n${USAGE}` : USAGE);
    return 1;
  }
  const client = adminClient(values, env);
  if (typeof client === "string") {
    io.err(`regate sessions: ${client}\n`);
    return 1;
  }
  try {
    if (action === "list") {
      const r = await client.call("GET", "/sessions");
      if (r.status !== 200) return apiFailed(io, "sessions list", r);
      const list = r.body.sessions as { id: string; principal: string; client: string; started_at: string; application_name?: string; transaction_status: string; current?: { sql: string; running_ms: number } }[];
      if (values.json) io.out(jsonOut(list));
      else if (list.length === 0) io.out("no live sessions\n");
      else
        for (const s of list)
          io.out(
            `${field(s.id)}  ${field(s.principal).padEnd(16)}  ${field(s.client).padEnd(21)}  ${field(s.transaction_status).padEnd(14)}  since ${field(s.started_at)}${s.application_name ? `  app ${field(s.application_name)}` : ""}${s.current ? `  running ${Math.round(s.current.running_ms)}ms: ${fieldLine(s.current.sql)}` : ""}\n`,
          );
      return 0;
    }
    const r = await client.call("POST", `/sessions/${encodeURIComponent(id!)}/kill`, { reason: values.reason });
    if (r.status !== 200) return apiFailed(io, "sessions kill", r);
    io.out(values.json ? `${JSON.stringify(r.body, null, 2)}\n` : `${id} killed by ${r.body.by}\n`);
    return 0;
  } catch (err) {
    io.err(`regate sessions: cannot reach ${client.base}: ${(err as Error).message}\n`);
    return 1;
  }
}
