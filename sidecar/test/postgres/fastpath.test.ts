// The fastpath FunctionCall ('F'), which the example policy refuses, under user policies that allow it:
// its one value ('V') carries no columns, so a decision with any mask is refused; the value is screened for
// the upstream password as error text is; and it counts against the byte budgets. Judged by the bytes a
// raw protocol client gets from regate in front of a real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../reliability/support/bundles.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { msg, query, Raw } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { api, startApprovingRegate } from "../approval/support.js";

// Customer 2 in testdata/demo/seed.sql.
const SSN = "607-59-5353";
const ALLOW = `package regate
decision := {"allow": true, "deny": [], "mask": []}
`;
const MASK_SSN = `package regate
decision := {"allow": true, "deny": [], "mask": [{"column": "public.customers.ssn", "strategy": "redact"}]}
`;
const DETECT_EMAIL = `package regate
decision := {"allow": true, "deny": [], "mask": [{"detector": "email", "strategy": "redact"}]}
`;
const APPROVE_FASTPATH = `package regate
approval := {"approve": {"reason": "fastpath needs a human", "approvers": ["dba-oncall"], "mode": "defer", "timeout_seconds": 60}} if input.postgres.message == "function_call"
else := {}
decision := object.union({"allow": true, "deny": [], "mask": []}, approval)
`;

let db: TestPostgres;
let allowing: TestRegate;
let masking: TestRegate;
let detecting: TestRegate;
let budgeted: TestRegate;
let approving: TestRegate;
const oids: Record<string, number> = {};

beforeAll(async () => {
  db = await startPostgres();
  const pw = db.users.scram.password.replace(/'/g, "''");
  // Functions owned by the administrator: what a user policy that allows fastpath would let an agent call.
  await db.query(`
    CREATE FUNCTION public.ssn_of(int) RETURNS text LANGUAGE sql SECURITY DEFINER AS $$ SELECT ssn FROM public.customers WHERE id = $1 $$;
    CREATE FUNCTION public.says_password() RETURNS text LANGUAGE sql AS $$ SELECT 'the password is ${pw}, again ${pw}' $$;
    CREATE FUNCTION public.password_bytes() RETURNS bytea LANGUAGE sql AS $$ SELECT convert_to('${pw}', 'UTF8') $$;
    CREATE FUNCTION public.long_text() RETURNS text LANGUAGE sql AS $$ SELECT repeat('x', 500) $$;
    CREATE FUNCTION public.short_text() RETURNS text LANGUAGE sql AS $$ SELECT 'ok' $$`);
  for (const name of ["ssn_of(int)", "says_password()", "password_bytes()", "long_text()", "short_text()"]) {
    oids[name] = Number((await db.query(`SELECT 'public.${name}'::regprocedure::oid AS oid`))[0].oid);
  }
  allowing = await startRegate(db, { policy: { bundle: buildBundle("fastpath-allow", { "p.rego": ALLOW }, false) } });
  masking = await startRegate(db, { policy: { bundle: buildBundle("fastpath-mask", { "p.rego": MASK_SSN }, false) } });
  detecting = await startRegate(db, { policy: { bundle: buildBundle("fastpath-detect", { "p.rego": DETECT_EMAIL }, false) } });
  budgeted = await startRegate(db, { policy: { bundle: buildBundle("fastpath-budget", { "p.rego": ALLOW }, false) }, postgres: { budgets: { bytes_per_statement: 100 } } });
  approving = await startApprovingRegate(db, {}, buildBundle("fastpath-approve", { "p.rego": APPROVE_FASTPATH }, false));
}, 180_000);

afterAll(async () => {
  await allowing?.stop();
  await masking?.stop();
  await detecting?.stop();
  await budgeted?.stop();
  await approving?.stop();
  await db?.stop();
});

type Message = { type: string; body: Buffer };

/** A FunctionCall with text arguments and the given result format (0 text, 1 binary). */
function functionCall(oid: number, args: string[] = [], resultFormat: 0 | 1 = 0): Buffer {
  const parts: Buffer[] = [u32(oid), u16(1), u16(0), u16(args.length)];
  for (const a of args) {
    const v = Buffer.from(a, "utf8");
    parts.push(i32(v.length), v);
  }
  parts.push(u16(resultFormat));
  return msg("F", Buffer.concat(parts));
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** The value of a FunctionCallResponse (null for SQL NULL). */
function valueOf(m: Message): Buffer | null {
  const len = m.body.readInt32BE(0);
  return len < 0 ? null : m.body.subarray(4, 4 + len);
}

function fields(m: Message): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < m.body.length && m.body[at] !== 0) {
    const end = m.body.indexOf(0, at + 1);
    out[String.fromCharCode(m.body[at]!)] = m.body.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return out;
}

/** Sends one FunctionCall and returns the replies up to its ReadyForQuery. */
async function call(r: TestRegate, f: Buffer): Promise<{ raw: Raw; got: Message[] }> {
  const raw = await Raw.open(r.url());
  raw.send(f);
  return { raw, got: await raw.readies(1) };
}

const everything = (got: Message[]) => Buffer.concat(got.map((m) => m.body)).toString("latin1");

describe("fastpath FunctionCall allowed by a user policy", () => {
  it("with no mask: the value reaches the client as the server sent it", async () => {
    const { raw, got } = await call(allowing, functionCall(oids["short_text()"]!));
    try {
      expect(got.map((m) => m.type)).toEqual(["V", "Z"]);
      expect(valueOf(got[0]!)?.toString()).toBe("ok");
    } finally {
      raw.close();
    }
  });

  it("with a column mask: refused 42501 MASK_LINEAGE_UNKNOWN before it runs, inside the logged decision; the session goes on", async () => {
    const { raw, got } = await call(masking, functionCall(oids["ssn_of(int)"]!, ["2"]));
    try {
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      const e = fields(got[0]!);
      expect(e["C"]).toBe("42501");
      expect(e["M"]).toMatch(/^regate refused this statement: a FunctionCall \(fastpath\) result cannot be masked: regate cannot tie it to columns \(decision [0-9a-f-]{36}\)/);
      expect(everything(got)).not.toContain(SSN);
      const logged = masking.decisions().filter((d) => d.input?.postgres?.message === "function_call");
      expect(logged.at(-1)).toMatchObject({ outcome: "deny", error: { code: "MASK_LINEAGE_UNKNOWN" } });
      raw.send(query("SELECT 1 AS one"));
      expect((await raw.readies(1)).map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    } finally {
      raw.close();
    }
  });

  it("with only a detector mask: refused the same way (a value of any type, in any format, cannot be scanned)", async () => {
    const { raw, got } = await call(detecting, functionCall(oids["short_text()"]!));
    try {
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(fields(got[0]!)["C"]).toBe("42501");
    } finally {
      raw.close();
    }
  });

  it("a value carrying regate's upstream password: replaced in the text result, in the hex of a text bytea, in a binary bytea", async () => {
    const pw = db.users.scram.password;
    const hex = Buffer.from(pw, "utf8").toString("hex");
    const cases: [string, 0 | 1, string][] = [
      ["says_password()", 0, "the password is [regate secret withheld], again [regate secret withheld]"],
      ["password_bytes()", 0, "\\x[regate secret withheld]"],
      ["password_bytes()", 1, "[regate secret withheld]"],
    ];
    for (const [fn, format, shown] of cases) {
      const { raw, got } = await call(allowing, functionCall(oids[fn]!, [], format));
      try {
        expect(got.map((m) => m.type), fn).toEqual(["V", "Z"]);
        expect(valueOf(got[0]!)?.toString("utf8"), `${fn} format ${format}`).toBe(shown);
        expect(everything(got)).not.toContain(pw);
        expect(everything(got)).not.toContain(hex);
      } finally {
        raw.close();
      }
    }
  });

  it("a value larger than bytes_per_statement: withheld with 54000, the next Query runs", async () => {
    const { raw, got } = await call(budgeted, functionCall(oids["long_text()"]!));
    try {
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      const e = fields(got[0]!);
      expect(e["C"]).toBe("54000");
      expect(e["M"]).toMatch(/^regate: budget exceeded: bytes_per_statement \(100\); the result was cut after 0 rows and the statement had already completed and committed upstream; only its result was withheld$/);
      expect(everything(got)).not.toContain("xxxxxxxxxx");
      raw.send(query("SELECT 1 AS one"));
      expect((await raw.readies(1)).map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
      // A small one still fits.
      raw.send(functionCall(oids["short_text()"]!));
      const small = await raw.readies(1);
      expect(small.map((m) => m.type)).toEqual(["V", "Z"]);
    } finally {
      raw.close();
    }
  });

  it("a decision asking approval: refused APPROVAL_REQUIRED, no approval asked (its digest would be one for every function and argument)", async () => {
    const { raw, got } = await call(approving, functionCall(oids["short_text()"]!));
    try {
      expect(got.map((m) => m.type)).toEqual(["E", "Z"]);
      const e = fields(got[0]!);
      expect(e["C"]).toBe("42501");
      expect(e["M"]).toMatch(/^regate refused this statement: a FunctionCall \(fastpath\) cannot be approved: a reviewer could not be shown which function it calls or with what arguments \(decision [0-9a-f-]{36}\)\. Next: call the function in a SQL statement, which a reviewer can read\.$/);
      expect((await api(approving, "/approvals")).body.approvals).toEqual([]);
    } finally {
      raw.close();
    }
  });
});
