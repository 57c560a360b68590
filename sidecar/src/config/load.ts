import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parse as parseYaml } from "yaml";
import { RegateError } from "../errors.js";
import { configSchema } from "./schema.js";
import { FileSecret } from "./file-secret.js";
import { configAgentTokenProblems } from "./agent-tokens.js";
import { personTokenProblems } from "./person-tokens.js";
import { workerProblems } from "./workers.js";
import { yamlProblem } from "../yaml-problem.js";
import { Secret, type Config } from "./types.js";

export const ENV_PREFIX = "REGATE_";

export class ConfigError extends RegateError {
  constructor(readonly problems: string[]) {
    super("CONFIG_INVALID", `configuration is invalid:\n  ${problems.join("\n  ")}`);
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(configSchema);

export interface LoadOptions {
  /** Path of the YAML file; relative paths inside it resolve against its directory. */
  file?: string;
  /** Raw YAML text instead of a file (the embedded default). */
  text?: string;
  baseDir?: string;
  env: NodeJS.ProcessEnv;
}

/**
 * YAML file + REGATE_* environment overrides (REGATE_POSTGRES__LISTEN__PORT=7000) -> validated,
 * defaulted, secret-resolved, frozen Config. Every problem is reported at once.
 */
export function loadConfig(opts: LoadOptions): Config {
  const problems: string[] = [];
  let raw: unknown = {};
  const text = opts.text ?? (opts.file ? readText(opts.file, problems) : "");
  if (text !== undefined && text.trim() !== "") {
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError([`${opts.file ?? "config"}: not valid YAML: ${yamlProblem((e as Error).message)}`]);
    }
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(["config must be a YAML mapping"]);
  applyEnvOverrides(raw as Record<string, unknown>, opts.env, problems);

  if (!validate(raw)) problems.push(...(validate.errors ?? []).map(describe));
  if (problems.length) throw new ConfigError(problems);

  const baseDir = opts.baseDir ?? (opts.file ? dirname(resolve(opts.file)) : process.cwd());
  const cfg = resolveSecrets(raw, "", opts.env, baseDir, problems) as Config;
  problems.push(...routeUserinfo(cfg));
  crossChecks(cfg, problems);
  if (problems.length) throw new ConfigError(problems);
  resolvePaths(cfg, baseDir);
  return deepFreeze(cfg);
}

function readText(file: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    problems.push(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return undefined;
  }
}

function describe(e: ErrorObject): string {
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".") || "(root)";
  if (e.keyword === "additionalProperties") return `${path === "(root)" ? "" : path + "."}${String(e.params["additionalProperty"])}: unknown key`;
  if (e.keyword === "enum") return `${path}: must be one of ${(e.params["allowedValues"] as unknown[]).join(", ")}`;
  return `${path}: ${e.message ?? "is invalid"}`;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const keys = name.slice(ENV_PREFIX.length).toLowerCase().split("__");
    let node = raw;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (typeof next !== "object" || next === null || Array.isArray(next)) {
        problems.push(`${name}: ${keys.join(".")} does not name a nested key`);
        break;
      }
      node = node[key] as Record<string, unknown>;
    }
    try {
      node[keys[keys.length - 1]!] = parseYaml(value);
    } catch (e) {
      // The value may be a secret (REGATE_POSTGRES__UPSTREAM__PASSWORD__VALUE): named, never quoted.
      problems.push(`${name}: not valid YAML: ${yamlProblem((e as Error).message)}`);
    }
  }
}

function isSecretRef(v: unknown): v is { env?: string; file?: string; value?: string } {
  if (!v || typeof v !== "object" || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && ["env", "file", "value"].includes(keys[0]!);
}

const SECRET_KEYS = new Set(["token", "password", "secret", "url", "hash_key", "key", "signing_key", "signing_secret"]);

function resolveSecrets(v: unknown, path: string, env: NodeJS.ProcessEnv, baseDir: string, problems: string[]): unknown {
  if (Array.isArray(v)) return v.map((item, i) => resolveSecrets(item, `${path}[${i}]`, env, baseDir, problems));
  if (!v || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (SECRET_KEYS.has(k) && isSecretRef(child)) out[k] = readSecret(child, p, env, baseDir, problems);
    else out[k] = resolveSecrets(child, p, env, baseDir, problems);
  }
  return out;
}

function readSecret(ref: { env?: string; file?: string; value?: string }, path: string, env: NodeJS.ProcessEnv, baseDir: string, problems: string[]): Secret | undefined {
  if (ref.value !== undefined) return new Secret(ref.value, "inline value");
  if (ref.env !== undefined) {
    const v = env[ref.env];
    if (v === undefined || v === "") {
      problems.push(`${path}: environment variable ${ref.env} is not set`);
      return undefined;
    }
    return new Secret(v, `env ${ref.env}`);
  }
  const file = isAbsolute(ref.file!) ? ref.file! : resolve(baseDir, ref.file!);
  try {
    return new FileSecret(file, `file ${ref.file}`, readFileSync(file, "utf8").replace(/\r?\n$/, ""));
  } catch (e) {
    problems.push(`${path}: cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    return undefined;
  }
}

function crossChecks(cfg: Config, problems: string[]): void {
  problems.push(...workerProblems(cfg));
  const subjects = new Set<string>();
  cfg.agents.tokens.forEach((t, i) => {
    if (subjects.has(t.subject)) problems.push(`agents.tokens[${i}].subject: ${t.subject} is listed twice`);
    subjects.add(t.subject);
  });
  const jwt = cfg.agents.jwt;
  if (jwt && !jwt.jwks_file === !jwt.jwks_url) problems.push("agents.jwt: set exactly one of jwks_file and jwks_url");
  if (cfg.postgres.upstream.sslmode === "verify-full" && !cfg.postgres.upstream.ca_file) {
    problems.push("postgres.upstream.ca_file: required with sslmode verify-full");
  }
  const signing = cfg.policy.signing;
  if (signing) {
    const ids = Object.keys(signing.keys);
    if (ids.length === 0) problems.push("policy.signing.keys: at least one key is needed to verify bundles");
    if (signing.keyid && !ids.includes(signing.keyid)) problems.push(`policy.signing.keyid: ${signing.keyid} is not in policy.signing.keys`);
  }
  const service = cfg.policy.service;
  if (service && service.min_delay_seconds > service.max_delay_seconds) problems.push("policy.service.min_delay_seconds: greater than max_delay_seconds");
  cfg.http.routes.forEach((r, i) => {
    if (r.credential?.type === "header" && !r.credential.header) problems.push(`http.routes[${i}].credential.header: required with type header`);
  });
  // The admin listener acts for people: a reviewer or responder holding an agent's token would let that agent
  // approve its own statements, kill sessions or read recordings (the listener refuses such a token anyway).
  const agentTokens = new Set(cfg.agents.tokens.map((t) => t.token.reveal()));
  cfg.approvals.reviewers.forEach((r, i) => {
    if (agentTokens.has(r.token.reveal())) problems.push(`approvals.reviewers[${i}].token: the same token as an agent's (agents.tokens); give ${r.name} a token of their own`);
  });
  cfg.incident.responders.forEach((r, i) => {
    if (agentTokens.has(r.token.reveal())) problems.push(`incident.responders[${i}].token: the same token as an agent's (agents.tokens); give ${r.name} a token of their own`);
  });
  problems.push(...personTokenProblems(cfg), ...configAgentTokenProblems(cfg), ...urlProblems(cfg));
  const slack = cfg.approvals.slack;
  if (slack) {
    for (const [id, name] of Object.entries(slack.users)) {
      if (!cfg.approvals.reviewers.some((r) => r.name === name)) problems.push(`approvals.slack.users.${id}: ${name} is not in approvals.reviewers`);
    }
  }
  const url = (cfg.postgres.upstream as unknown as { url?: Secret }).url;
  if (url) {
    try {
      const u = new URL(url.reveal());
      if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new Error("scheme");
      const up = cfg.postgres.upstream;
      up.host = u.hostname || up.host;
      up.port = u.port ? Number(u.port) : 5432;
      up.database = decodeURIComponent(u.pathname.replace(/^\//, "")) || up.database;
      up.user = decodeURIComponent(u.username) || up.user;
      if (u.password) up.password = new Secret(decodeURIComponent(u.password), url.source);
      const sslmode = u.searchParams.get("sslmode");
      if (sslmode === "disable" || sslmode === "require" || sslmode === "verify-full") up.sslmode = sslmode;
      else if (sslmode) problems.push(`postgres.upstream.url: sslmode ${sslmode} is not supported (disable, require, verify-full)`);
      delete (up as { url?: unknown }).url;
    } catch {
      problems.push("postgres.upstream.url: not a postgres:// URL");
    }
  }
}

/**
 * URLs given as plain strings that a URL parser refuses, named by key and not quoted: such a URL may carry a
 * credential (userinfo, a `?token=`), and refused later it would fail the start with Node's bare "Invalid URL".
 */
function urlProblems(cfg: Config): string[] {
  const urls: [string, string | undefined][] = [
    ...cfg.http.routes.map((r, i) => [`http.routes.${i}.upstream`, r.upstream] as [string, string]),
    ["policy.service.url", cfg.policy.service?.url],
    ["export.decision_logs.service_url", cfg.export.decision_logs.service_url],
    ["export.ocsf.endpoint", cfg.export.ocsf.endpoint],
    ["agents.jwt.jwks_url", cfg.agents.jwt?.jwks_url],
    ["approvals.review_url", cfg.approvals.review_url],
  ];
  return urls.filter(([, u]) => u !== undefined && !URL.canParse(u)).map(([key]) => `${key}: not a URL (not shown: it may hold a credential)`);
}

/**
 * A route upstream's userinfo is a basic credential. It becomes the route's credential, a Secret, and leaves the
 * URL: shown redacted with the config, and scrubbed from the request lines and the decision log as a configured
 * credential is (an agent can type it into a path). With a credential configured too, that one is sent and the
 * userinfo only leaves the URL. This is the only place userinfo becomes a credential: compileRoutes refuses a
 * URL that still carries one.
 */
function routeUserinfo(cfg: Config): string[] {
  const problems: string[] = [];
  cfg.http.routes.forEach((r, i) => {
    if (typeof r.upstream !== "string" || !URL.canParse(r.upstream)) return;
    const url = new URL(r.upstream);
    if (!url.username && !url.password) return;
    if (!r.credential) {
      try {
        r.credential = { type: "basic", secret: new Secret(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`, `http.routes.${i}.upstream userinfo`) };
      } catch {
        problems.push(`http.routes.${i}.upstream: its userinfo is not percent-encoded correctly`);
      }
    }
    r.upstream = `${url.protocol}//${url.host}${url.pathname}${url.search}${url.hash}`;
  });
  return problems;
}

function resolvePaths(cfg: Config, baseDir: string): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.policy.bundle = abs(cfg.policy.bundle);
  const service = cfg.policy.service;
  if (service) for (const k of ["ca_file", "cert_file", "key_file"] as const) if (service[k]) service[k] = abs(service[k]);
  if (cfg.postgres.tls) cfg.postgres.tls = { cert_file: abs(cfg.postgres.tls.cert_file), key_file: abs(cfg.postgres.tls.key_file) };
  if (cfg.postgres.upstream.ca_file) cfg.postgres.upstream.ca_file = abs(cfg.postgres.upstream.ca_file);
  if (cfg.agents.jwt?.jwks_file) cfg.agents.jwt.jwks_file = abs(cfg.agents.jwt.jwks_file);
  cfg.export.ocsf.file = abs(cfg.export.ocsf.file);
  cfg.recording.dir = abs(cfg.recording.dir);
  if (cfg.recording.postgres.ca_file) cfg.recording.postgres.ca_file = abs(cfg.recording.postgres.ca_file);
  for (const t of [cfg.export.decision_logs.tls, cfg.export.ocsf.tls]) {
    if (!t) continue;
    if (t.ca_file) t.ca_file = abs(t.ca_file);
    if (t.cert_file) t.cert_file = abs(t.cert_file);
    if (t.key_file) t.key_file = abs(t.key_file);
  }
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !(v instanceof Secret)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}
