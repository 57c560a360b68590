import { parseArgs } from "node:util";
import { ConfigError } from "../config/index.js";
import { looksLikeUrl, shownUrl } from "../shown-url.js";
import { loadConfigFromArgs } from "./config-arg.js";

export async function checkConfigCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } });
  try {
    const cfg = loadConfigFromArgs(values.config, env);
    // Secret.toJSON redacts every secret; a URL given as a plain string may still carry one (route upstream
    // userinfo, a bundle server's userinfo or signed query, an export endpoint's ?token=): shownUrl hides it.
    process.stdout.write(`${JSON.stringify(cfg, (_k, v: unknown) => (typeof v === "string" && looksLikeUrl(v) ? shownUrl(v) : v), 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
