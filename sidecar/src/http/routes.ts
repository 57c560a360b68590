import { UpstreamPools } from "./upstream-pools.js";
import { RegateError } from "../errors.js";
import type { RouteCredential, RouteOptions } from "./options.js";
import { routeSecrets, secretForms } from "./scrub.js";

export interface CompiledRoute {
  readonly name: string;
  /** Normalised: no trailing slash, "" for the root prefix. */
  readonly prefix: string;
  readonly host: string | undefined;
  /** Scheme, host and port only. Never contains userinfo. */
  readonly origin: string;
  /** What the upstream request is made with: request options and the Host header (the upstream's own). */
  readonly https: boolean;
  readonly hostname: string;
  readonly port: number;
  readonly hostHeader: string;
  /** Upstream base path without trailing slash ("" for none). */
  readonly basePath: string;
  /** Lowercased header name and value regate injects, if any. */
  readonly credentialHeader: string | undefined;
  readonly credentialValue: string | undefined;
  /** Every byte form of the credential, searched for in responses (empty without a credential). */
  readonly secretForms: readonly Buffer[];
  /** Declared response media types (lowercase), if the route declares them. */
  readonly responseTypes: ReadonlySet<string> | undefined;
  /** The upstream is an MCP server (http.routes[].mcp). */
  readonly mcp: boolean;
  /** Keep-alive connection pools to this upstream, one per agent and rule set (with the route's CA for https). */
  readonly agent: UpstreamPools;
}

/**
 * How long a pooled upstream connection may sit idle. An upstream's own `Keep-Alive: timeout=N` is heeded
 * (the pool lets the connection go a second before the upstream would); a pool that kept a connection until
 * the upstream closed it would send requests as it does, and they would fail. For upstreams that announce
 * nothing (Go, uvicorn) this stays under the 5 s that Node, Apache and uvicorn use. It
 * bounds idle pooled sockets only: a request in flight is not timed by it (limits.timeout_ms is).
 */
const POOL_IDLE_MS = 4_000;

// RFC 9110 token characters.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Header values may not contain CR, LF or NUL: anything else could split the forwarded request.
const UNSAFE_VALUE = /[\r\n\0]/;

function credentialHeader(route: string, c: RouteCredential): [string, string] {
  if (typeof c.value !== "string" || c.value === "" || UNSAFE_VALUE.test(c.value)) {
    throw new RegateError("CONFIG_INVALID", `route ${route}: credential value must be a non-empty string without CR, LF or NUL`);
  }
  switch (c.type) {
    case "bearer":
      return ["authorization", `Bearer ${c.value}`];
    case "basic":
      if (!c.value.includes(":")) throw new RegateError("CONFIG_INVALID", `route ${route}: basic credential must be "user:password"`);
      return ["authorization", `Basic ${Buffer.from(c.value, "utf8").toString("base64")}`];
    case "header":
      if (!c.header || !HEADER_NAME.test(c.header)) {
        throw new RegateError("CONFIG_INVALID", `route ${route}: credential header must be a valid header name`);
      }
      return [c.header.toLowerCase(), c.value];
    default:
      throw new RegateError("CONFIG_INVALID", `route ${route}: unknown credential type`);
  }
}

function normalisePrefix(route: string, prefix: string): string {
  if (typeof prefix !== "string" || !prefix.startsWith("/")) {
    throw new RegateError("CONFIG_INVALID", `route ${route}: prefix must start with "/"`);
  }
  return prefix.replace(/\/+$/, "");
}

export function compileRoutes(routes: readonly RouteOptions[]): CompiledRoute[] {
  const names = new Set<string>();
  return routes.map((r) => {
    if (!r.name || names.has(r.name)) throw new RegateError("CONFIG_INVALID", `route names must be unique and non-empty (${r.name})`);
    names.add(r.name);
    let url: URL;
    try {
      url = new URL(r.upstream);
    } catch (cause) {
      // The message names the route, not the URL: it may carry userinfo.
      throw new RegateError("CONFIG_INVALID", `route ${r.name}: upstream is not a URL`, { cause });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RegateError("CONFIG_INVALID", `route ${r.name}: upstream must be http or https`);
    }
    if (url.username || url.password) {
      // Config load (config/load.ts, routeUserinfo) moves userinfo into the route's credential, a Secret, and
      // out of the URL; one still here came some other way, and sent from here it would not be scrubbed from the
      // request lines and the decision log as a configured credential is. The message names the route only.
      throw new RegateError("CONFIG_INVALID", `route ${r.name}: upstream still carries userinfo (config load moves it into the route's credential)`);
    }
    const credential = r.credential;
    const [header, value] = credential ? credentialHeader(r.name, credential) : [undefined, undefined];
    const agent = new UpstreamPools(url.origin, { idleMs: POOL_IDLE_MS, ...(url.protocol === "https:" && r.ca ? { ca: r.ca } : {}) });
    return Object.freeze({
      name: r.name,
      prefix: normalisePrefix(r.name, r.prefix),
      host: r.host?.toLowerCase(),
      origin: url.origin,
      https: url.protocol === "https:",
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port),
      hostHeader: url.host,
      basePath: url.pathname.replace(/\/+$/, ""),
      credentialHeader: header,
      credentialValue: value,
      secretForms: secretForms(routeSecrets(credential)),
      responseTypes: r.response_types ? new Set(r.response_types.map((t) => t.toLowerCase())) : undefined,
      mcp: r.mcp === true,
      agent,
    });
  });
}

export { hostName } from "../host-name.js";

/**
 * The route for a request: routes naming this host beat host-less ones, then the longest prefix wins.
 * A prefix matches at a segment boundary ("/crm" matches "/crm" and "/crm/x", not "/crmx").
 * Returns the route and the path left after its prefix (always starting with "/").
 */
export function matchRoute(routes: readonly CompiledRoute[], host: string, path: string): { route: CompiledRoute; rest: string } | undefined {
  let best: CompiledRoute | undefined;
  for (const r of routes) {
    if (r.host !== undefined && r.host !== host) continue;
    if (r.prefix !== "" && path !== r.prefix && !path.startsWith(r.prefix + "/")) continue;
    if (
      !best ||
      (r.host !== undefined && best.host === undefined) ||
      ((r.host !== undefined) === (best.host !== undefined) && r.prefix.length > best.prefix.length)
    ) {
      best = r;
    }
  }
  if (!best) return undefined;
  const rest = path.slice(best.prefix.length);
  return { route: best, rest: rest === "" ? "/" : rest };
}
