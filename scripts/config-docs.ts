// Writes docs/config.md from the config schema (npx tsx scripts/config-docs.ts); a test keeps it current.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configReference } from "../sidecar/src/config/reference.js";
import { packageRoot } from "../sidecar/src/paths.js";

writeFileSync(join(packageRoot, "docs", "config.md"), configReference());
console.log("wrote docs/config.md");
