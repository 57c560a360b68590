import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../config/index.js";
import { packageRoot } from "../paths.js";

/** The embedded default: what `make run` and a bare `regate run` use. */
export const DEFAULT_CONFIG_PATH = join(packageRoot, "sidecar", "demo", "regate.yaml");

export function loadConfigFromArgs(file: string | undefined, env: NodeJS.ProcessEnv): Config {
  if (file) return loadConfig({ file, env });
  return loadConfig({ text: readFileSync(DEFAULT_CONFIG_PATH, "utf8"), baseDir: packageRoot, env });
}

/** The admin listener's base URL: `--url` when given, else from the config (`--config` or the embedded default). */
export function adminBaseUrl(url: string | undefined, configFile: string | undefined, env: NodeJS.ProcessEnv): string {
  if (url) return url;
  const { listen } = loadConfigFromArgs(configFile, env).admin;
  return `http://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`;
}
