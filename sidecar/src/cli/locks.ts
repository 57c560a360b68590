import { parseArgs } from "node:util";
import type { Lock } from "../locks/index.js";
import { ADMIN_OPTIONS, adminClient, apiFailed, stdio, type Out } from "./admin-client.js";

const USAGE = `usage: regate locks list [--json]
       regate locks add (--principal P | --group G | --token ID | --session ID) --message TEXT [--ttl SECONDS]
       regate locks remove LOCK_ID
options: --url http://127.0.0.1:9187 (else from --config) --token-file F (else env REGATE_RESPONDER_TOKEN)
`;

const KINDS = ["principal", "group", "token", "session"] as const;

/**
 * Locks over the admin API (docs/incident-response.md). `add` ends the matching live sessions at once.
 * Exit 0 done, 1 usage or transport error, 2 the API refused (bad lock, no such lock).
 */
export async function locksCommand(argv: string[], env: NodeJS.ProcessEnv, io: Out = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...ADMIN_OPTIONS,
        principal: { type: "string" },
        group: { type: "string" },
        token: { type: "string" },
        session: { type: "string" },
        message: { type: "string", short: "m" },
        ttl: { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [action, id] = positionals;
  const targets = KINDS.filter((k) => values[k] !== undefined);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  const usable =
    action === "list" ||
    (action === "remove" && id) ||
    (action === "add" && targets.length === 1 && values.message?.trim() && (ttl === undefined || (Number.isFinite(ttl) && ttl > 0)));
  if (!usable) {
    io.err(USAGE);
    return 1;
  }
  const client = adminClient(values, env);
  if (typeof client === "string") {
    io.err(`regate locks: ${client}\n`);
    return 1;
  }
  try {
    if (action === "list") {
      const r = await client.call("GET", "/locks");
      if (r.status !== 200) return apiFailed(io, "locks list", r);
      const list = r.body.locks as Lock[];
      if (values.json) io.out(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.length === 0) io.out("no locks\n");
      else for (const l of list) io.out(`${l.id}  ${target(l).padEnd(28)}  by ${l.created_by}  ${l.expires_at ? `until ${l.expires_at}` : "until removed"}  ${l.message}\n`);
      return 0;
    }
    if (action === "add") {
      const kind = targets[0]!;
      const r = await client.call("POST", "/locks", { target: { [kind]: values[kind] }, message: values.message, ...(ttl !== undefined ? { ttl_seconds: ttl } : {}) });
      if (r.status !== 201) return apiFailed(io, "locks add", r);
      io.out(values.json ? `${JSON.stringify(r.body, null, 2)}\n` : `${r.body.id} locks ${target(r.body as Lock)}\n`);
      return 0;
    }
    const r = await client.call("DELETE", `/locks/${encodeURIComponent(id!)}`);
    if (r.status !== 200) return apiFailed(io, "locks remove", r);
    io.out(`${id} removed\n`);
    return 0;
  } catch (err) {
    io.err(`regate locks: cannot reach ${client.base}: ${(err as Error).message}\n`);
    return 1;
  }
}

function target(l: Lock): string {
  const [kind, value] = Object.entries(l.target)[0]!;
  return `${kind} ${value}`;
}
