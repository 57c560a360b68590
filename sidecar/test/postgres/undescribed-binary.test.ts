// A masked column of a non-text type, executed without a Describe of its portal: the client decodes the row
// by the row shape it was told before (the statement's Describe) or by the types it assumed. Judged by the
// bytes of the DataRow and the RowDescription the client got.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuild } from "../policy/opa.js";
import { dataRowValues, msg, parse, Raw, rowFields, sync } from "../support/raw-pg.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

/** Masks ssn unless the statement's first parameter is 'audit': a Describe before the values shows it masked. */
const REGO = `package regate

opened if input.postgres.parameters[0].value == "audit"

mask contains {"column": "public.customers.ssn", "strategy": "redact"} if not opened

decision := {"allow": true, "deny": [], "mask": [m | some m in mask]}
`;

let db: TestPostgres;
let regate: TestRegate;
let byParameter: TestRegate;
let id: number;

beforeAll(async () => {
  db = await startPostgres();
  [{ id }] = (await db.query("SELECT id FROM public.customers WHERE ssn IS NOT NULL ORDER BY id LIMIT 1")) as { id: number }[];
  regate = await startRegate(db);
  const bundle = join(mkdtempSync(join(tmpdir(), "regate-undescribed-")), "bundle.tar.gz");
  writeFileSync(bundle, opaBuild({ revision: "undescribed", rego: REGO }));
  byParameter = await startRegate(db, { policy: { bundle, watch_interval_ms: 0 } });
});

afterAll(async () => {
  await byParameter?.stop();
  await regate?.stop();
  await db?.stop();
});

/** A Bind of `statement` to the unnamed portal, no parameters, every result column in binary format. */
const bindBinary = (statement: string) => msg("B", Buffer.concat([Buffer.from(`\0${statement}\0`), Buffer.from([0, 0, 0, 0, 0, 1, 0, 1])]));
const execute = () => msg("E", Buffer.from([0, 0, 0, 0, 0]));
const describeStatement = (name: string) => msg("D", Buffer.from(`S${name}\0`));

async function run(raw: Raw, ...parts: Buffer[]): Promise<{ type: string; body: Buffer }[]> {
  raw.send(...parts);
  return raw.readies(1);
}

describe("masked non-text columns in binary rows without a portal Describe", () => {
  const sql = () => `SELECT id, length(ssn) AS n, length(ssn)::int8 AS m FROM customers WHERE id = ${id}`;

  it("a client told nothing gets NULL, which its own int4 and int8 decoders read, not mask text in their bytes", async () => {
    const raw = await Raw.open(regate.url());
    try {
      const got = await run(raw, parse(sql(), "plain"), bindBinary("plain"), execute(), sync());
      expect(got.map((m) => m.type).join("")).toBe("12DCZ");
      const [own, n, m] = dataRowValues(got.find((x) => x.type === "D")!.body);
      expect(own!.readInt32BE(0)).toBe(id);
      expect(n).toBeNull();
      expect(m).toBeNull();
    } finally {
      raw.close();
    }
  });

  it("a client told by the statement's Describe that the columns are text gets the mask as text", async () => {
    const raw = await Raw.open(regate.url());
    try {
      const described = await run(raw, parse(sql(), "told"), describeStatement("told"), sync());
      expect(rowFields(described.find((x) => x.type === "T")!.body).map((f) => f.typeOid)).toEqual([23, 25, 25]);
      const got = await run(raw, bindBinary("told"), execute(), sync());
      const [own, n, m] = dataRowValues(got.find((x) => x.type === "D")!.body);
      expect(own!.readInt32BE(0)).toBe(id);
      expect(n!.toString()).toBe("****");
      expect(m!.toString()).toBe("****");
    } finally {
      raw.close();
    }
  });

  it("a statement Described after its Bind, in the same batch (tokio-postgres query_typed), gets the mask as text", async () => {
    // tokio-postgres: Parse + Bind (every column binary) + Describe statement + Execute + Sync. regate asks for
    // the portal's shape itself right after the Bind; the client's own Describe, answered after that, tells it
    // the columns are text, and it reads the rows by that.
    const raw = await Raw.open(regate.url());
    try {
      const got = await run(raw, parse(sql()), bindBinary(""), describeStatement(""), execute(), sync());
      expect(got.map((m) => m.type).join("")).toBe("12tTDCZ");
      expect(rowFields(got.find((x) => x.type === "T")!.body).map((f) => f.typeOid)).toEqual([23, 25, 25]);
      const [own, n, m] = dataRowValues(got.find((x) => x.type === "D")!.body);
      expect(own!.readInt32BE(0)).toBe(id);
      expect(n?.toString()).toBe("****");
      expect(m?.toString()).toBe("****");
    } finally {
      raw.close();
    }
  });

  it("an unmasked statement's binary rows are the server's own bytes", async () => {
    const raw = await Raw.open(regate.url());
    try {
      const got = await run(raw, parse(`SELECT id, length(full_name)::int8 AS n FROM customers WHERE id = ${id}`, "clear"), bindBinary("clear"), execute(), sync());
      const [own, n] = dataRowValues(got.find((x) => x.type === "D")!.body);
      expect(own!.readInt32BE(0)).toBe(id);
      expect(n!.length).toBe(8);
      expect(Number(n!.readBigInt64BE(0))).toBeGreaterThan(0);
    } finally {
      raw.close();
    }
  });

  it("a column the statement's Describe showed as text stays text when the values unmask it", async () => {
    const raw = await Raw.open(byParameter.url());
    try {
      const text = `SELECT id, length(ssn) AS n FROM customers WHERE id = ${id} AND $1::text IS NOT NULL`;
      const described = await run(raw, msg("P", Buffer.concat([Buffer.from(`opened\0${text}\0`), Buffer.from([0, 1, 0, 0, 0, 25])])), describeStatement("opened"), sync());
      expect(rowFields(described.find((x) => x.type === "T")!.body).map((f) => f.typeOid)).toEqual([23, 25]);
      const value = Buffer.from("audit");
      const header = Buffer.alloc(8);
      header.writeInt16BE(0, 0);
      header.writeInt16BE(1, 2);
      header.writeInt32BE(value.length, 4);
      const bind = msg("B", Buffer.concat([Buffer.from("\0opened\0"), header, value, Buffer.from([0, 1, 0, 1])]));
      const got = await run(raw, bind, execute(), sync());
      const [own, n] = dataRowValues(got.find((x) => x.type === "D")!.body);
      expect(own!.readInt32BE(0)).toBe(id);
      // Four bytes of int4 read as text would be control characters; the client was told text.
      expect(n!.toString()).toBe("****");
    } finally {
      raw.close();
    }
  });
});
