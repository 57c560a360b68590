import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (holds package.json, testdata/, rego/), whether running from src via tsx or from dist. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) || !existsSync(join(dir, "testdata"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("regate package root not found");
    dir = parent;
  }
  return dir;
})();

export const schemaPath = (name: string): string => join(packageRoot, "testdata", "schemas", name);
