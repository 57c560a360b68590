import { parseArgs } from "node:util";
import { ConfigError } from "../config/index.js";
import { loadConfigFromArgs } from "./config-arg.js";

export async function checkConfigCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } });
  try {
    const cfg = loadConfigFromArgs(values.config, env);
    // Secret.toJSON redacts every secret; a URL given as a plain string may still carry one (route upstream
    // userinfo, a bundle server's userinfo or signed query, an export endpoint's ?token=): shownUrl hides it.
    process.stdout.write(`${JSON.stringify(cfg, (_k, v: unknown) => (typeof v === "string" ? shownUrl(v) : v), 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A string that is a URL, with its password and query values replaced by [REDACTED] (user name, host and path
 * stay: they tell the operator which server is meant). A URL that does not parse is shown by its scheme only:
 * where its credential would be cannot be told.
 */
export function shownUrl(v: string): string {
  if (!URL_LIKE.test(v)) return v;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${v.slice(0, v.indexOf("://") + 3)}[REDACTED: not a URL]`;
  }
  if (!url.password && !url.search) return v;
  const user = url.username || url.password ? `${url.username}${url.password ? ":[REDACTED]" : ""}@` : "";
  const query = url.search ? `?${[...new Set(url.searchParams.keys())].map((k) => `${encodeURIComponent(k)}=[REDACTED]`).join("&")}` : "";
  return `${url.protocol}//${user}${url.host}${url.pathname}${query}`;
}
