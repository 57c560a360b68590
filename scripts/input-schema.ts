// Writes testdata/schemas/input.schema.json (npx tsx scripts/input-schema.ts).
import { writeFileSync } from "node:fs";
import { schemaPath } from "../sidecar/src/paths.js";
import { inputSchemaText } from "../sidecar/test/support/input-schema.js";

writeFileSync(schemaPath("input.schema.json"), inputSchemaText());
console.log("wrote testdata/schemas/input.schema.json");
