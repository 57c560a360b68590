import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// SQL shapes earlier red-team rounds did not try, through regate with the example policy, judged by every byte
// the server side of the connection sent to the client (rows, RowDescription names, errors, notices, tags):
// a relay in front of regate records them. Each shape is run over the simple protocol and the extended one
// with text and binary results. No hole was found: these pin what the agent gets, masked or refused.

let db: TestPostgres;
let regate: TestRegate;
let relay: net.Server;
let relayPort = 0;
let received: Buffer[] = [];
let raw: { id: number; email: string; phone: string; ssn: string; card_number: string };

beforeAll(async () => {
  db = await startPostgres();
  [raw] = (await db.query(
    "SELECT id, email, phone, ssn, card_number FROM public.customers WHERE ssn IS NOT NULL AND phone IS NOT NULL AND card_number IS NOT NULL ORDER BY id LIMIT 1",
  )) as (typeof raw)[];
  regate = await startRegate(db);
  relay = net.createServer((client) => {
    const upstream = net.connect(regate.port, "127.0.0.1");
    client.pipe(upstream);
    upstream.on("data", (d: Buffer) => {
      received.push(Buffer.from(d));
      client.write(d);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on("close", () => b.destroy());
      a.on("error", () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  relayPort = (relay.address() as net.AddressInfo).port;
});

afterAll(async () => {
  relay?.close();
  await regate?.stop();
  await db?.stop();
});

/** The masked values, and parts from which they could be rebuilt (as text, digits only, base64, hex). */
function secrets(): string[] {
  const digits = (v: string) => v.replace(/\D/g, "");
  const out = [raw.ssn, digits(raw.ssn), raw.ssn.slice(0, 6), raw.email, raw.email.split("@")[0]!, raw.phone, digits(raw.phone), raw.card_number, digits(raw.card_number)];
  out.push(digits(raw.card_number).slice(0, 12));
  for (const v of [raw.ssn, raw.email, raw.card_number]) out.push(Buffer.from(v).toString("base64").slice(0, 12), Buffer.from(v).toString("hex"));
  return out;
}

type Mode = "simple" | "extended text" | "extended binary";
type Outcome = { rows: Record<string, unknown>[] } | { refused: string };

async function run(sql: string, mode: Mode): Promise<{ outcome: Outcome; bytes: string }> {
  const client = new pg.Client({ connectionString: regate.url().replace(`:${regate.port}/`, `:${relayPort}/`) });
  client.on("error", () => undefined);
  await client.connect();
  received = [];
  let outcome: Outcome;
  try {
    const r =
      mode === "simple"
        ? await client.query(sql)
        : await client.query({ text: sql, values: [], queryMode: "extended", binary: mode === "extended binary" } as pg.QueryConfig & { queryMode: string; binary: boolean });
    const results = (Array.isArray(r) ? r : [r]) as pg.QueryResult[];
    outcome = { rows: results.flatMap((x) => x.rows as Record<string, unknown>[]) };
  } catch (e) {
    outcome = { refused: (e as { code?: string }).code ?? "?" };
  }
  const bytes = Buffer.concat(received).toString("latin1");
  await client.end().catch(() => undefined);
  return { outcome, bytes };
}

function expectNoSecret(bytes: string, sql: string, mode: Mode): void {
  for (const s of secrets()) expect(bytes.includes(s), `${mode}: ${sql} sent ${s}`).toBe(false);
}

const id = () => raw.id;

describe("values of a masked column, whatever shape carries them, reach the agent masked or not at all", () => {
  // [name, sql, "masked" (rows come back, every byte checked) or the SQLSTATE it is refused with]
  const shapes: [string, () => string, "masked" | "42501"][] = [
    ["TABLE", () => `TABLE customers`, "masked"],
    ["the masked value as a JSON key", () => `SELECT jsonb_object_agg(ssn, 1) a, JSON_OBJECTAGG(ssn: 1) b, jsonb_build_object(ssn, 1) c FROM customers WHERE id = ${id()}`, "masked"],
    ["JSON keys taken back out as rows", () => `SELECT k FROM (SELECT jsonb_object_agg(ssn, 1) j FROM customers WHERE id = ${id()}) s, jsonb_object_keys(s.j) k`, "masked"],
    ["one character per row", () => `SELECT x FROM customers c, regexp_split_to_table(c.ssn, '') x WHERE id = ${id()}`, "masked"],
    ["one character per row in the select list", () => `SELECT string_to_table(ssn, NULL) a FROM customers WHERE id = ${id()}`, "masked"],
    ["encodings", () => `SELECT ssn::bytea a, encode(convert_to(ssn, 'UTF8'), 'base64') b, translate(ssn, '0123456789', 'abcdefghij') c, ascii(substr(ssn, 1, 1)) d FROM customers WHERE id = ${id()}`, "masked"],
    ["XML and SQL/JSON", () => `SELECT xmlforest(ssn, email) a, JSON_VALUE(to_jsonb(c), '$.ssn') b, JSON_OBJECT('k': ssn) d FROM customers c WHERE id = ${id()}`, "masked"],
    ["JSON_TABLE and XMLTABLE", () => `SELECT j.v, x.w FROM customers c, JSON_TABLE(to_jsonb(c), '$' COLUMNS (v text PATH '$.ssn')) j, XMLTABLE('/r' PASSING xmlelement(name r, c.ssn) COLUMNS w text PATH '.') x WHERE id = ${id()}`, "masked"],
    ["an error message as a row", () => `SELECT (pg_input_error_info(ssn, 'int')).message FROM customers WHERE id = ${id()}`, "masked"],
    ["window functions", () => `SELECT lag(ssn) OVER (ORDER BY id) a, first_value(ssn) OVER () b, nth_value(ssn, 1) OVER () c FROM customers WHERE id IN (${id()}, ${id() + 1})`, "masked"],
    ["GROUPING SETS", () => `SELECT ssn, count(*) FROM customers WHERE id = ${id()} GROUP BY GROUPING SETS ((ssn), ())`, "masked"],
    ["a record of another table's type filled from the masked value", () => `SELECT r.* FROM customers c, jsonb_populate_record(null::orders, jsonb_build_object('status', c.ssn)) r WHERE c.id = ${id()}`, "42501"],
    ["a field of that record", () => `SELECT r.status FROM customers c, jsonb_populate_record(null::orders, jsonb_build_object('status', c.ssn)) r WHERE c.id = ${id()}`, "masked"],
    ["json_each of the whole row", () => `SELECT j.* FROM customers c, json_each_text(row_to_json(c)) j WHERE id = ${id()}`, "42501"],
    ["SQL in a string: ts_stat", () => `SELECT * FROM ROWS FROM (ts_stat('SELECT to_tsvector(ssn) FROM customers'))`, "42501"],
    ["SQL in a string: ts_rewrite with named arguments", () => `SELECT ts_rewrite(query => 'a'::tsquery, "select" => 'SELECT to_tsquery(ssn), to_tsquery(ssn) FROM customers')`, "42501"],
    ["SQL in a string: query_to_xml", () => `SELECT query_to_xml('select ssn from customers', true, false, '')`, "42501"],
    ["cast errors quoting the value", () => `SELECT ssn::regclass FROM customers WHERE id = ${id()}`, "masked"],
    ["EXPLAIN ANALYZE", () => `EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) SELECT ssn FROM customers WHERE id = ${id()}`, "42501"],
    ["set_config fed by a value chosen by the masked column", () => `SELECT set_config('x.y', g::text, false) FROM generate_series(0, 999) g, customers c WHERE c.id = ${id()} AND g = split_part(c.ssn, '-', 1)::int`, "42501"],
    ["COPY of a value chosen by the masked column", () => `COPY (SELECT g FROM generate_series(0, 999) g, customers c WHERE c.id = ${id()} AND g = split_part(c.ssn, '-', 1)::int) TO STDOUT`, "42501"],
  ];
  it.each(shapes)("%s", async (_name, sql, expected) => {
    for (const mode of ["simple", "extended text", "extended binary"] as const) {
      const { outcome, bytes } = await run(sql(), mode);
      expectNoSecret(bytes, sql(), mode);
      // A cast error is the server's SQLSTATE with regate's text: the statement reads a masked column.
      if (expected === "masked" && "refused" in outcome) expect(outcome.refused, `${mode}: ${sql()}`).not.toBe("42501");
      if (expected === "42501") expect(outcome, `${mode}: ${sql()}`).toEqual({ refused: "42501" });
    }
  });

  it("a binary cursor FETCHed over the simple protocol sends masked bytes, whatever the column's type", async () => {
    const sql = `BEGIN; DECLARE cur BINARY CURSOR FOR SELECT ssn::bytea AS a, octet_length(ssn) AS b, email, ssn, card_number FROM customers WHERE id = ${id()}; FETCH ALL cur; COMMIT`;
    const { outcome, bytes } = await run(sql, "simple");
    expectNoSecret(bytes, sql, "simple");
    expect("rows" in outcome && outcome.rows.length).toBe(1);
  });

  it("errors raised where the statement does not name the table (FETCH, EXECUTE, COMMIT of a WITH HOLD cursor) are withheld", async () => {
    for (const sql of [
      `BEGIN; DECLARE cur CURSOR FOR SELECT ssn::int FROM customers WHERE id = ${id()}; FETCH cur`,
      `PREPARE pp AS SELECT ssn::int FROM customers WHERE id = ${id()}; EXECUTE pp`,
      `BEGIN; DECLARE cur CURSOR WITH HOLD FOR SELECT ssn::int FROM customers WHERE id = ${id()}; COMMIT`,
    ]) {
      const { outcome, bytes } = await run(sql, "simple");
      expectNoSecret(bytes, sql, "simple");
      expect(outcome).toEqual({ refused: "22P02" });
    }
  });
});

describe("partial keeps the column's own last four digits or domain, never a part the agent chose", () => {
  // partial would keep the last four characters of a value: of substr(card_number, 1, 12) they are digits 9-12.
  const shapes: [string, () => string][] = [
    ["UNION ALL with an expression", () => `SELECT card_number FROM customers WHERE id = ${id()} UNION ALL SELECT substr(card_number, 1, 12) FROM customers WHERE id = ${id()}`],
    ["FULL JOIN USING merges both sides", () => `SELECT card_number FROM customers c FULL JOIN (SELECT substr(card_number, 1, 12) AS card_number FROM customers WHERE id = ${id()}) r USING (card_number) WHERE c.id IS NULL`],
    ["a row cast to the table's own type", () => `SELECT (ROW(id, full_name, email, phone, ssn, substr(card_number, 1, 12), created_at)::customers).card_number FROM customers WHERE id = ${id()}`],
    ["jsonb_populate_record of the table's type", () => `SELECT (jsonb_populate_record(null::customers, jsonb_build_object('card_number', substr(card_number, 1, 12)))).card_number FROM customers WHERE id = ${id()}`],
    ["CASE and COALESCE", () => `SELECT CASE WHEN id > 0 THEN substr(card_number, 1, 12) ELSE card_number END AS a, COALESCE(NULL, substr(card_number, 1, 12), card_number) AS b FROM customers WHERE id = ${id()}`],
    ["an e-mail's local part as a domain", () => `SELECT email FROM customers c FULL JOIN (SELECT 'x@' || split_part(email, '@', 1) AS email FROM customers WHERE id = ${id()}) r USING (email) WHERE c.id IS NULL`],
  ];
  it.each(shapes)("%s", async (_name, sql) => {
    const lastFour = raw.card_number.replace(/\D/g, "").slice(-4);
    const local = raw.email.split("@")[0]!;
    for (const mode of ["simple", "extended text"] as const) {
      const { outcome, bytes } = await run(sql(), mode);
      expectNoSecret(bytes, sql(), mode);
      expect(bytes.includes(local), `${mode}: ${sql()}`).toBe(false);
      expect("rows" in outcome, `${mode}: ${sql()}`).toBe(true);
      for (const row of "rows" in outcome ? outcome.rows : [])
        for (const value of Object.values(row)) if (typeof value === "string" && /\d{4}$/.test(value)) expect(value.endsWith(lastFour), `${mode}: ${sql()} gave ${value}`).toBe(true);
    }
  });
});
