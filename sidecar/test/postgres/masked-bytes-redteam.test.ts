// Red team of the bytes a client decodes from a masked result: every DataRow value must be readable under
// the type the client was last told for its column (the RowDescription it saw, or the type it assumed when
// it saw none), in the format it asked for, and no masked value may reach it. Judged by raw protocol bytes.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataRowValues, msg, parse, query, Raw, rowFields, sync } from "../support/raw-pg.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { buildBundle } from "../reliability/support/bundles.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
/** The example policy plus card and e-mail detectors over every Postgres result. */
let detecting: TestRegate;
let row: { id: number; email: string; phone: string; ssn: string; card_number: string };

beforeAll(async () => {
  db = await startPostgres();
  [row] = (await db.query("SELECT id, email, phone, ssn, card_number FROM public.customers WHERE ssn IS NOT NULL AND phone IS NOT NULL ORDER BY id LIMIT 1")) as (typeof row)[];
  regate = await startRegate(db);
  const rego = ["card", "email"].map((d) => `mask contains {"detector": "${d}", "strategy": "redact"} if input.kind == "postgres"`).join("\n");
  detecting = await startRegate(db, { policy: { bundle: buildBundle("masked-bytes-detect", { "detect.rego": `package regate\n\n${rego}\n` }) } });
});

afterAll(async () => {
  await regate?.stop();
  await detecting?.stop();
  await db?.stop();
});

type Msg = { type: string; body: Buffer };
function dump(got: Msg[]): string {
  return got
    .map((m) => {
      if (m.type === "T") return `T ${JSON.stringify(rowFields(m.body))}`;
      if (m.type === "D") return `D ${dataRowValues(m.body).map((v) => (v === null ? "NULL" : JSON.stringify(v.toString("latin1")))).join(" | ")}`;
      if (m.type === "E") return `E ${m.body.toString("utf8").replace(/\0/g, " ")}`;
      return m.type;
    })
    .join("\n");
}

const bindFormats = (statement: string, formats: number[], portal = "") => {
  const f = Buffer.alloc(2 + formats.length * 2);
  f.writeInt16BE(formats.length, 0);
  formats.forEach((x, i) => f.writeInt16BE(x, 2 + i * 2));
  return msg("B", Buffer.concat([Buffer.from(`${portal}\0${statement}\0`), Buffer.from([0, 0, 0, 0]), f]));
};
const executeN = (portal = "", n = 0) => {
  const b = Buffer.alloc(portal.length + 1 + 4);
  b.write(portal, 0);
  b.writeInt32BE(n, portal.length + 1);
  return msg("E", b);
};
const describeMessage = (kind: "S" | "P", name: string) => msg("D", Buffer.from(`${kind}${name}\0`));

async function run(raw: Raw, ...parts: Buffer[]): Promise<Msg[]> {
  raw.send(...parts);
  return raw.readies(1);
}

async function exchange(url: string, ...parts: Buffer[]): Promise<Msg[]> {
  const raw = await Raw.open(url);
  try {
    return await run(raw, ...parts);
  } finally {
    raw.close();
  }
}

const rows = (got: Msg[]) => got.filter((m) => m.type === "D").map((m) => dataRowValues(m.body));
const told = (got: Msg[]) => rowFields(got.find((m) => m.type === "T")!.body);

/** A card number that passes Luhn, and an e-mail: what the detectors find. */
const CARD = "4111111111111111";
const MAIL = "a.person@example.org";

describe("detector masks leave a value that its type's parser reads", () => {
  it("text format: a card number masked inside a JSON number, an int8[] or a record's number field withholds the value; text stays masked in place", async () => {
    const sql = `SELECT '{"n": ${CARD}}'::json AS j, '{"n": ${CARD}}'::jsonb AS jb, ARRAY[${CARD}] AS a, row(${CARD}, 'x') AS r, '{"m": "${MAIL}"}'::json AS js, ARRAY['mail ${MAIL}'] AS t, row('mail ${MAIL} now', 7) AS rt, '${MAIL}' AS plain`;
    for (const parts of [[query(sql)], [parse(sql), bindFormats("", [0]), describeMessage("P", ""), executeN(), sync()]]) {
      const got = await exchange(detecting.url(), ...parts);
      expect(got.map((m) => m.type).join(""), dump(got)).toMatch(/TDCZ$/);
      expect(told(got).map((f) => f.typeOid)).toEqual([114, 3802, 1016, 2249, 114, 1009, 2249, 25]);
      const [j, jb, a, r, js, t, rt, plain] = rows(got)[0]!;
      // `{"n": ****}` is no JSON, `{****}` no int8[], `(****,x)` no record of a number: the client's parser fails.
      expect([j, jb, a, r]).toEqual([null, null, null, null]);
      // must allow: a JSON string, a text array's element, a record's quoted text field and text keep their mask in place.
      expect(js!.toString()).toBe('{"m": "****"}');
      expect(t!.toString()).toBe('{"mail ****"}');
      expect(rt!.toString()).toBe('("mail **** now",7)');
      expect(plain!.toString()).toBe("****");
    }
  });

  it("binary jsonb: a masked JSON number withholds the value; a masked JSON string keeps jsonb's version byte and parses", async () => {
    const sql = `SELECT '{"n": ${CARD}}'::jsonb AS a, '{"m": "${MAIL}"}'::jsonb AS b`;
    const got = await exchange(detecting.url(), parse(sql), bindFormats("", [1]), describeMessage("P", ""), executeN(), sync());
    const [a, b] = rows(got)[0]!;
    expect(a).toBeNull();
    expect(b![0]).toBe(1);
    expect(JSON.parse(b!.subarray(1).toString())).toEqual({ m: "****" });
  });

  it("a BINARY cursor FETCHed over the simple protocol: an array or a record with a hit is withheld, not masked inside its binary lengths", async () => {
    const got = await exchange(detecting.url(), query(`BEGIN; DECLARE c BINARY CURSOR FOR SELECT ARRAY['mail ${MAIL}'] AS a, row('mail ${MAIL}', 1) AS r, 'mail ${MAIL}'::text AS t, ARRAY['clear'] AS u, '{"m": "${MAIL}"}'::jsonb AS j; FETCH 1 FROM c; COMMIT`));
    expect(told(got).map((f) => [f.typeOid, f.format])).toEqual([[1009, 1], [2249, 1], [25, 1], [1009, 1], [3802, 1]]);
    const [a, r, t, u, j] = rows(got)[0]!;
    expect(Buffer.concat(got.map((m) => m.body)).includes(MAIL)).toBe(false);
    // The element's length word said 25 bytes where 9 followed: a binary array reader overruns the value.
    expect(a).toBeNull();
    expect(r).toBeNull();
    expect(t!.toString()).toBe("mail ****");
    // must allow: a binary array without a hit is the server's own bytes (one dimension, one text element).
    expect(u!.readInt32BE(0)).toBe(1);
    expect(u!.subarray(u!.length - 5).toString()).toBe("clear");
    // must allow: binary jsonb is a version byte and its text, masked in place.
    expect(j![0]).toBe(1);
    expect(JSON.parse(j!.subarray(1).toString())).toEqual({ m: "****" });
  });
});

// Pins what the red team found sound: each path reads as told (no fix was needed for these).
describe("rule masks: every path gives what the told type reads, and no masked value", () => {
  // The masked column's expression, and whether its own type reads the mask token (text-like) or only NULL.
  const expressions: [string, boolean][] = [
    ["length(ssn)::int8", false],
    ["length(ssn)::numeric", false],
    ["ssn IS NULL", false],
    ["md5(ssn)::uuid", false],
    ["'2020-01-01'::date + length(ssn)", false],
    ["now() + length(ssn) * interval '1s'", false],
    ["ssn::bytea", false],
    ["to_json(ssn)", false],
    ["to_jsonb(ssn)", false],
    ["ARRAY[ssn]", false],
    ["row(ssn, 1)", false],
    ["ssn::varchar(5)", true],
    ["ssn::char(5)", true],
    ["ssn::name", true],
    ["ssn", true],
  ];
  it.each(expressions)("%s", async (expression, textLike) => {
    const sql = `SELECT id, ${expression} AS v FROM customers WHERE id = ${row.id}`;
    const paths: [string, Buffer[][], "text" | "own"][] = [
      ["simple Query", [[query(sql)]], "text"],
      ["Describe P, binary", [[parse(sql), bindFormats("", [1]), describeMessage("P", ""), executeN(), sync()]], "text"],
      ["Describe S, then mixed formats", [[parse(sql, "s"), describeMessage("S", "s"), sync()], [bindFormats("s", [0, 1]), executeN(), msg("C", Buffer.from("Ss\0")), sync()]], "text"],
      ["no Describe, binary", [[parse(sql), bindFormats("", [1]), executeN(), sync()]], "own"],
      ["no Describe, text", [[parse(sql), bindFormats("", [0]), executeN(), sync()]], "own"],
    ];
    for (const [path, batches, as] of paths) {
      const raw = await Raw.open(regate.url());
      const got: Msg[] = [];
      try {
        for (const parts of batches) got.push(...(await run(raw, ...parts)));
      } finally {
        raw.close();
      }
      expect(Buffer.concat(got.map((m) => m.body)).includes(row.ssn), path).toBe(false);
      const [[, v]] = rows(got) as [[Buffer | null, Buffer | null]];
      expect(v === null ? null : v.toString(), `${path}: ${dump(got)}`).toBe(as === "text" || textLike ? "****" : null);
    }
  });
});

describe("a real driver that asks for binary", () => {
  it("must allow: node-postgres with binary: true reads every masked column as the text it was told", async () => {
    const client = new pg.Client({ connectionString: regate.url(), binary: true });
    await client.connect();
    try {
      const { rows: got } = await client.query(`SELECT id, length(ssn)::int8 AS n, ARRAY[ssn] AS a, row(ssn, 1) AS r, to_jsonb(ssn) AS j, ssn::char(5) AS c, email FROM customers WHERE id = $1`, [row.id]);
      expect(got).toEqual([{ id: row.id, n: "****", a: "****", r: "****", j: "****", c: "****", email: `***@${row.email.split("@")[1]}` }]);
    } finally {
      await client.end();
    }
  });
});
