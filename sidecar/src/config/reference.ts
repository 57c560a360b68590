import { configSchema } from "./schema.js";
import { ENV_PREFIX } from "./load.js";

type Node = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  properties?: Record<string, Node>;
  items?: Node;
  minProperties?: number;
  required?: readonly string[];
  const?: unknown;
  oneOf?: readonly Node[];
};

/** The type column: a type, an enum's values, or the alternatives of a oneOf (`integer \| "auto"`). */
function typeOf(node: Node): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.oneOf) return node.oneOf.map(typeOf).join(" \\| ");
  return node.type ?? "any";
}

/** docs/config.md, rendered from the schema so that the two cannot disagree. */
export function configReference(): string {
  const rows: string[] = [];
  const walk = (node: Node, path: string) => {
    const isSecret = node.properties && "env" in node.properties && "file" in node.properties;
    if (node.properties && !isSecret) {
      for (const [k, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${k}` : k);
      return;
    }
    if (node.type === "array" && node.items?.properties) {
      rows.push(row(path, "list", node));
      for (const [k, child] of Object.entries(node.items.properties)) walk(child, `${path}[].${k}`);
      return;
    }
    rows.push(row(path, isSecret ? "secret" : typeOf(node), node));
  };
  walk(configSchema as unknown as Node, "");
  return `# Configuration reference

Generated from \`sidecar/src/config/schema.ts\` by \`npx tsx scripts/config-docs.ts\`; a test fails when
the two disagree. \`regate check-config --config file\` validates a file, reports every problem at
once with the path of the bad key, and prints the normalized config with secrets redacted.

- The file is YAML. Relative paths in it resolve against the file's directory.
- Any key can be overridden from the environment: \`${ENV_PREFIX}\` + the path in upper case with
  \`__\` between levels, the value read as YAML: \`${ENV_PREFIX}POSTGRES__LISTEN__PORT=7432\`,
  \`${ENV_PREFIX}POLICY__DRY_RUN=true\`, \`${ENV_PREFIX}POSTGRES__UPSTREAM__PASSWORD='{env: PGPASSWORD}'\`.
- A **secret** is \`{env: NAME}\` (an environment variable), \`{file: path}\` (a mounted Secret) or
  \`{value: "..."}\` (inline, for demos). Secrets never appear in logs, decision logs, errors or
  \`check-config\` output.

| key | type | default | description |
|---|---|---|---|
${rows.join("\n")}
`;
}

function row(path: string, type: string, node: Node): string {
  const def = node.default === undefined || (typeof node.default === "object" && node.default !== null && Object.keys(node.default).length === 0 && !Array.isArray(node.default)) ? "" : `\`${JSON.stringify(node.default)}\``;
  return `| \`${path}\` | ${type} | ${def} | ${(node.description ?? "").replace(/\|/g, "\\|")} |`;
}
