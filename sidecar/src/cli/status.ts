import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { StatusReport } from "../admin/index.js";
import { ConfigError } from "../config/index.js";
import { adminBaseUrl } from "./config-arg.js";
import { field, jsonOut } from "./shown.js";

const USAGE =
  "usage: regate status [--url http://127.0.0.1:9187] [--config file] [--token-file F] [--json]\n" +
  "  without a responder's or reviewer's token (--token-file, else env REGATE_RESPONDER_TOKEN or REGATE_REVIEWER_TOKEN)\n" +
  "  the listener says states only: no sources, times or error messages\n";

/**
 * Asks a running sidecar's admin listener for /status and prints it for a person (or as JSON with --json).
 * Exit 0 when every bundle is active and its last attempt went well, 2 when a bundle serves but the
 * last download or activation failed, 1 when no bundle is active or the sidecar cannot be reached.
 */
export async function statusCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: "string", short: "u" }, config: { type: "string", short: "c" }, "token-file": { type: "string" }, json: { type: "boolean" } },
  });
  let token: string | undefined;
  try {
    token = values["token-file"] ? readFileSync(values["token-file"], "utf8").trim() : (env["REGATE_RESPONDER_TOKEN"] ?? env["REGATE_REVIEWER_TOKEN"]);
  } catch (err) {
    process.stderr.write(`regate status: --token-file: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  let base: string;
  try {
    base = adminBaseUrl(values.url, values.config, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}`);
    return 1;
  }
  let report: StatusReport;
  try {
    const res = await fetch(new URL("/status", base), { signal: AbortSignal.timeout(5000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    report = (await res.json()) as StatusReport;
  } catch (err) {
    process.stderr.write(`regate status: cannot read ${base}/status: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.json) process.stdout.write(jsonOut(report));
  else process.stdout.write(formatStatus(report, new Date()));
  const bundles = Object.values(report.bundles);
  if (bundles.length === 0 || bundles.some((b) => !b.active_revision)) return 1;
  return bundles.some((b) => b.code) ? 2 : 0;
}

/**
 * The report as aligned lines, times with their age. Error messages and their causes carry text a bundle server
 * chose (a TLS peer's certificate names, a parser's quote of the bytes it refused), so every value is printed
 * as a field that cannot act on the responder's terminal.
 */
export function formatStatus(report: StatusReport, now: Date): string {
  const lines: string[] = [];
  const row = (label: string, value: string | undefined) => {
    if (value !== undefined) lines.push(`  ${label.padEnd(20)}${field(value)}`);
  };
  const when = (iso: string | undefined) => (iso ? `${iso} (${age(now.getTime() - Date.parse(iso))} ago)` : undefined);
  for (const b of Object.values(report.bundles)) {
    lines.push(`bundle ${field(b.name)}`);
    row("active revision", b.active_revision ?? "none (every decision is denied)");
    row("source", b.source);
    if (b.signature) row("signed by key", `${b.signature.keyid}${b.signature.issued_at !== undefined ? ` at ${new Date(b.signature.issued_at * 1000).toISOString()}` : ""}`);
    row("last activation", when(b.last_successful_activation) ?? "never");
    row("last download", when(b.last_successful_download));
    row("last request", when(b.last_request));
    if (b.code) {
      row("last error", `${b.code}: ${b.message ?? ""}`);
      row("  at", when(b.last_error_time));
      for (const e of b.errors ?? []) row("  cause", e);
    } else {
      row("last error", "none");
    }
    if (b.metrics) {
      const m = b.metrics;
      row("counts", `${m.activations} activated, ${m.refused} refused, ${m.downloads} downloaded, ${m.not_modified} not modified, ${m.download_errors} download errors`);
    }
  }
  lines.push("plugins");
  for (const [name, p] of Object.entries(report.plugins)) row(name, `${p.state}${p.message ? ` (${p.message})` : ""}`);
  return `${lines.join("\n")}\n`;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
