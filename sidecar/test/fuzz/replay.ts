// Replays one case: `npx tsx sidecar/test/fuzz/replay.ts testdata/fuzz/<file>.json` or `... <target> <hex>`.
import { readFileSync } from "node:fs";
import { checkOne, type FoundCase } from "./engine.js";
import { loadTargets } from "./targets.js";

const [a, b] = process.argv.slice(2);
const c: Pick<FoundCase, "target" | "input_hex"> = b === undefined ? (JSON.parse(readFileSync(a!, "utf8")) as FoundCase) : { target: a!, input_hex: b };
const target = (await loadTargets()).find((t) => t.name === c.target);
if (!target) throw new Error(`no target ${c.target}`);
const found = await checkOne(target, Buffer.from(c.input_hex, "hex"));
console.log(found ? `${found.kind}: ${found.error}` : "passes");
process.exitCode = found ? 1 : 0;
