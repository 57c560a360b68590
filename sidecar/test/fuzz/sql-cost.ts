// How long analyze() takes on large SQL of several shapes, up to 1 MiB (the default max_statement_bytes was 1 MiB; it is 64 KiB since this measurement).
// analyze() runs on the main thread, so this is how long one agent's statement stalls every other session.
// Run: npx tsx sidecar/test/fuzz/sql-cost.ts (a measurement, not a test; figures in docs/reliability.md).
import { analyze, initSqlParser } from "../../src/postgres/sql/index.js";
await initSqlParser();
const fill = (head: string, item: (i: number) => string, sep: string, tail: string, bytes: number) => {
  const parts: string[] = []; let len = head.length + tail.length; let i = 0;
  while (len < bytes) { const s = item(i++); parts.push(s); len += s.length + sep.length; }
  return head + parts.join(sep) + tail;
};
const shapes: Record<string, (b: number) => string> = {
  ands: (b) => fill("select * from t where ", (i) => `a=${i}`, " and ", "", b),
  inlist: (b) => fill("select * from t where a in (", (i) => `${i}`, ",", ")", b),
  cols: (b) => fill("select ", (i) => `c${i}`, ",", " from t", b),
  stmts: (b) => fill("", (i) => `select ${i} from t`, ";", "", b),
  cte: (b) => fill("with ", (i) => `c${i} as (select * from ${i ? "c" + (i - 1) : "t"})`, ", ", " select 1", b),
  joins: (b) => fill("select * from t0", (i) => ` join t${i + 1} using (id)`, "", "", b),
  unions: (b) => fill("", (i) => `select a from t${i}`, " union ", "", b),
  values: (b) => fill("insert into t values ", (i) => `(${i},'x')`, ",", "", b),
  setpath: (b) => fill("", (i) => `set search_path = s${i}; select * from t`, ";", "", b),
};
for (const [name, f] of Object.entries(shapes)) {
  const row: string[] = [];
  for (const kb of (process.argv[2] ?? "64,256,1024").split(",").map(Number)) {
    const sql = f(kb * 1024);
    const t0 = performance.now();
    let r = "";
    try { const a = analyze(sql, { searchPath: ["public"], user: "a", prepared: new Map() }); if (a.parse_error) r = " parse_error " + a.parse_error.slice(0, 40); } catch (e) { r = ` THROW ${(e as Error).name}`; }
    row.push(`${kb}KB ${Math.round(performance.now() - t0)}ms${r}`);
  }
  console.log(name.padEnd(8), row.join(" | "));
}
