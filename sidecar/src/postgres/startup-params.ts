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
const CONSUMED = new Set(["user", "database"]);

export interface StartupSettings {
  /** Passed to the upstream StartupMessage. */
  upstream: Record<string, string>;
  dropped: string[];
}

// asyncpg sends 'utf-8' with the quotes, as a GUC value may be written.
const unquoted = (v: string) => v.trim().replace(/^'(.*)'$/, "$1");
const isUtf8 = (v: string) => ["UTF8", "UNICODE"].includes(unquoted(v).toUpperCase().replace(/[-_]/g, ""));

/**
 * Settings regate reads SQL under (parser.ts): a client may ask for the value regate already holds the
 * upstream session to, as PHP's PDO idiom `options='--client_encoding=UTF8'` does, and nothing else. The
 * upstream is never sent them: its values are checked once it is connected (session-start.ts).
 */
const REQUIRED: ReadonlyMap<string, { ok: (v: string) => boolean; value: string }> = new Map([
  ["client_encoding", { ok: isUtf8, value: "UTF8" }],
  ["standard_conforming_strings", { ok: (v: string) => ["on", "true", "yes", "1"].includes(unquoted(v).toLowerCase()), value: "on" }],
]);

function requireAsRegate(name: string, value: string): void {
  const rule = REQUIRED.get(name)!;
  if (!rule.ok(value)) throw new RegateError("FEATURE_UNSUPPORTED", `regate requires ${name} ${rule.value}; connect without setting it, or set it to ${rule.value}`);
}

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
    if (REQUIRED.has(key)) {
      requireAsRegate(key, value);
      continue;
    }
    if (CONSUMED.has(key)) continue;
    if (key === "options") {
      Object.assign(upstream, parseOptions(value));
      continue;
    }
    if (key.startsWith("_pq_.")) continue;
    if (FORWARDED.has(key)) upstream[key] = value;
    else if (key === "role" || key === "session_authorization") {
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
    if (REQUIRED.has(name)) {
      requireAsRegate(name, eq === -1 ? "" : w.slice(eq + 1));
      continue;
    }
    if (!FORWARDED.has(name)) throw new RegateError("FEATURE_UNSUPPORTED", `startup option ${name} is not allowed through regate`);
    out[name] = eq === -1 ? "" : w.slice(eq + 1);
  }
  return out;
}
