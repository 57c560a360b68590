// Where an MCP message carries JSON Schemas, whose property names are field names, not values (json-rewrite.ts).

/** How deep schemaAt looks: a batch's element, `result`, `tools`, a tool, its schema. */
export const SHALLOW = 5;

/**
 * Whether member `key` at `depth` (the keys above it in `shallow`, which this updates) is a JSON Schema of an
 * MCP message: a tool's `inputSchema` or `outputSchema` in a `tools/list` answer, an elicitation's
 * `requestedSchema`, in a message or a batch element. Its `properties` are named after the fields the tool
 * takes and returns (`email`, `ssn`), their values are schemas (`{"type": "string"}`): masked as fields,
 * `"type": "s***g"` fails every client that compiles the schema (the SDKs do, for outputSchema) and the tool
 * list cannot be read. Field rules do not apply there; detectors still read every string.
 */
export function schemaAt(shallow: string[], depth: number, key: string): boolean {
  shallow[depth] = key;
  const at = shallow[0] === "#" ? 1 : 0;
  const rel = depth - at;
  if (key === "inputSchema" || key === "outputSchema") return rel === 3 && shallow[at] === "result" && shallow[at + 1] === "tools" && shallow[at + 2] === "#";
  return key === "requestedSchema" && rel === 1 && shallow[at] === "params";
}
