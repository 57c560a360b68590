import { RegateError } from "../errors.js";

/** Startup parameters passed on to the upstream session; anything else is dropped or refused. */
const FORWARDED = new Set([
  "application_name",
  "datestyle",
  "timezone",
  "extra_float_digits",
  "intervalstyle",
  "search_path",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "bytea_output",
]);

/** Parameters consumed by regate itself (identity and target come from regate, not the agent). */
const CONSUMED = new Set(["user", "database", "client_encoding"]);

export interface StartupSettings {
  /** Passed to the upstream StartupMessage. */
  upstream: Record<string, string>;
  dropped: string[];
}

// asyncpg sends 'utf-8' with the quotes, as a GUC value may be written.
const isUtf8 = (v: string) => ["UTF8", "UNICODE"].includes(v.trim().replace(/^'(.*)'$/, "$1").toUpperCase().replace(/[-_]/g, ""));

/**
 * Checks what the agent asked for at startup. Settings that would make regate read SQL differently
 * from the server, switch identity, or bypass SQL altogether (replication) end the session.
 */
export function screenStartupParams(params: ReadonlyMap<string, string>): StartupSettings {
  const upstream: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [rawKey, value] of params) {
    const key = rawKey.toLowerCase();
    if (key === "replication") throw new RegateError("FEATURE_UNSUPPORTED", "replication connections are not allowed through regate");
    if (key === "client_encoding") {
      if (!isUtf8(value)) throw new RegateError("FEATURE_UNSUPPORTED", "regate requires client_encoding UTF8");
      continue;
    }
    if (CONSUMED.has(key)) continue;
    if (key === "options") {
      Object.assign(upstream, parseOptions(value));
      continue;
    }
    if (key.startsWith("_pq_.")) continue;
    if (FORWARDED.has(key)) upstream[key] = value;
    else if (key === "standard_conforming_strings" || key === "role" || key === "session_authorization") {
      throw new RegateError("FEATURE_UNSUPPORTED", `setting ${key} at startup is not allowed through regate`);
    } else dropped.push(rawKey);
  }
  return { upstream, dropped };
}

/** `options` holds command-line switches (-c name=value); only the forwarded settings are accepted. */
function parseOptions(options: string): Record<string, string> {
  const out: Record<string, string> = {};
  const words = options.match(/(?:\\.|[^\s\\])+/g) ?? [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!.replace(/\\(.)/g, "$1");
    if (w === "-c") w = (words[++i] ?? "").replace(/\\(.)/g, "$1");
    else if (w.startsWith("-c")) w = w.slice(2);
    else if (w.startsWith("--")) w = w.slice(2);
    else throw new RegateError("FEATURE_UNSUPPORTED", "startup options other than -c name=value are not allowed through regate");
    const eq = w.indexOf("=");
    const name = (eq === -1 ? w : w.slice(0, eq)).toLowerCase().replace(/-/g, "_");
    if (!FORWARDED.has(name)) throw new RegateError("FEATURE_UNSUPPORTED", `startup option ${name} is not allowed through regate`);
    out[name] = eq === -1 ? "" : w.slice(eq + 1);
  }
  return out;
}
