import { parseArgs } from "node:util";
import type { Approval } from "../approval/index.js";
import { ADMIN_OPTIONS, adminClient, apiFailed, oneLine, REVIEWER, stdio, type Out } from "./admin-client.js";

const USAGE = `usage: regate approvals list [--all]
       regate approvals show ID
       regate approvals approve ID [--comment TEXT]
       regate approvals refuse ID --comment TEXT      (also: deny)
       regate approvals wait ID [--timeout SECONDS]   until a reviewer answers: exit 0 approved, 2 anything else
options: --url http://127.0.0.1:9187 (else from --config) --token-file F (else env REGATE_REVIEWER_TOKEN) --json
`;

/**
 * A reviewer's command line over the admin listener's approvals API. `approve` first reads the approval
 * and sends back the SHA-256 it shows, so what is approved is what was printed. Exit 0 done, 1 usage
 * or transport error, 2 the API refused (not found, no longer pending, digest mismatch); `wait` exits 0 once
 * approved and 2 when the approval ended otherwise or is still pending at --timeout (default 300 s).
 */
export async function approvalsCommand(argv: string[], env: NodeJS.ProcessEnv, io: Out = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...ADMIN_OPTIONS,
        comment: { type: "string", short: "m" },
        all: { type: "boolean" },
        timeout: { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [given, id] = positionals;
  const action = given === "deny" ? "refuse" : given;
  const timeoutS = values.timeout === undefined ? 300 : Number(values.timeout);
  if (!action || !["list", "show", "approve", "refuse", "wait"].includes(action) || (action !== "list" && !id) || !(timeoutS >= 0)) {
    io.err(USAGE);
    return 1;
  }
  const client = adminClient(values, env, REVIEWER);
  if (typeof client === "string") {
    io.err(`regate approvals: ${client}\n${USAGE}`);
    return 1;
  }
  const { base } = client;
  const call = (path: string, body?: unknown) => client.call(body === undefined ? "GET" : "POST", path, body);
  const failed = (r: { status: number; body: any }) => apiFailed(io, `approvals ${action}`, r);
  try {
    if (action === "list") {
      const r = await call(values.all ? "/approvals" : "/approvals?status=pending");
      if (r.status !== 200) return failed(r);
      const list = r.body.approvals as Approval[];
      if (values.json) io.out(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.length === 0) io.out(values.all ? "no approvals\n" : "nothing pending\n");
      else for (const a of list) io.out(`${a.id}  ${a.status.padEnd(9)}  ${a.principal}@${a.target}  expires ${a.expires_at}  ${oneLine(a.statement.sql, 80)}${a.statement.notes?.length ? `  (${a.statement.notes.length} note${a.statement.notes.length > 1 ? "s" : ""}: read them with show)` : ""}\n`);
      return 0;
    }
    const path = `/approvals/${encodeURIComponent(id!)}`;
    const shown = await call(path);
    if (shown.status !== 200) return failed(shown);
    if (action === "wait") {
      let a = shown.body as Approval;
      const until = Date.now() + timeoutS * 1000;
      while (a.status === "pending" && Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, until - Date.now()))));
        const r = await call(path);
        if (r.status !== 200) return failed(r);
        a = r.body as Approval;
      }
      io.out(values.json ? `${JSON.stringify(a, null, 2)}\n` : `${a.id} ${a.status}${a.reviewer ? ` by ${a.reviewer}` : ""}${a.comment ? `: ${a.comment}` : ""}\n`);
      return a.status === "approved" ? 0 : 2;
    }
    if (action === "show") {
      io.out(values.json ? `${JSON.stringify(shown.body, null, 2)}\n` : describe(shown.body as Approval));
      return 0;
    }
    const body = action === "approve" ? { sha256: (shown.body as Approval).sha256, ...(values.comment ? { comment: values.comment } : {}) } : { comment: values.comment ?? "" };
    // What is approved is printed first, notes included: the reviewer is told what was marked, cut or masked.
    if (action === "approve" && !values.json) io.out(describe(shown.body as Approval));
    const r = await call(`${path}/${action}`, body);
    if (r.status !== 200) return failed(r);
    io.out(values.json ? `${JSON.stringify(r.body, null, 2)}\n` : `${r.body.id} ${r.body.status} by ${r.body.reviewer}\n`);
    return 0;
  } catch (err) {
    io.err(`regate approvals: cannot reach ${base}: ${(err as Error).message}\n`);
    return 1;
  }
}

function describe(a: Approval): string {
  const lines = [
    `${a.id}  ${a.status}`,
    `  reason      ${a.reason} (approvers: ${a.approvers})`,
    `  asked by    ${a.principal} on ${a.target}, session ${a.session_id}${a.in_transaction ? ", inside a transaction block" : ""}`,
    `  requested   ${a.requested_at}, expires ${a.expires_at}`,
    `  sha256      ${a.sha256}`,
    ...(a.statement.notes ?? []).map((n, i) => `${i === 0 ? "  read first" : "            "}  * ${n}`),
    `  ${a.kind === "http" ? "request  " : "statement"}   ${indent(a.statement.sql)}`,
  ];
  if (a.statement.parameters) {
    if (a.kind === "http") lines.push(`  body        ${indent(String(a.statement.parameters[0]))}`);
    else lines.push(`  parameters  ${JSON.stringify(a.statement.parameters)}`);
  }
  if (a.reviewer) lines.push(`  decided     ${a.decided_at} by ${a.reviewer}${a.comment ? `: ${a.comment}` : ""}`);
  return `${lines.join("\n")}\n`;
}

/** Lines after the first under the column the first starts in: a statement's or request's lines read as one block. */
function indent(text: string): string {
  return text.replace(/\n/g, "\n              ");
}
