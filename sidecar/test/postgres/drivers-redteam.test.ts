// Red team with what drivers outside the client matrix put on the wire (tokio-postgres, Ruby pg / libpq
// pipeline mode, Perl DBD::Pg, PHP PDO pgsql), replayed here as raw messages so that no foreign toolchain is
// needed: each case is what one of those drivers was seen to send, through regate with the example policy.
// Judged by the bytes the agent got and what the database did.
import type { Socket } from "node:net";
import { connect } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startApprovingRegate, until } from "../approval/support.js";
import { screenStartupParams } from "../../src/postgres/startup-params.js";
import { buildBundle } from "../reliability/support/bundles.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { bind, execute, msg, parse, query, Raw, sync } from "../support/raw-pg.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let holding: TestRegate;
let detecting: TestRegate;
const NOTE_EMAIL = "alice.secret@example.com";

beforeAll(async () => {
  db = await startPostgres();
  await db.query(`CREATE TABLE public.notes (id int PRIMARY KEY, body text);
    INSERT INTO public.notes VALUES (1, 'write to ${NOTE_EMAIL} today');
    GRANT SELECT ON public.notes TO app_scram`);
  holding = await startApprovingRegate(db);
  // The example policy plus an email detector over every Postgres result.
  const bundle = buildBundle("drivers-redteam-detect", { "detect.rego": 'package regate\n\nmask contains {"detector": "email", "strategy": "redact"} if input.kind == "postgres"\n' });
  detecting = await startRegate(db, { policy: { bundle } });
}, 120_000);

afterAll(async () => {
  await holding?.stop();
  await detecting?.stop();
  await db?.stop();
});

type Message = { type: string; body: Buffer };
const sqlstates = (ms: Message[]) => ms.filter((m) => m.type === "E").map((m) => /\0C([0-9A-Z]{5})\0/.exec(`\0${m.body.toString("latin1")}`)?.[1]);

/** A Raw client that also keeps the cancel key regate gave it. */
async function openWithKey(url: string): Promise<{ raw: Raw; pid: number; key: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  const { processID: pid, secretKey: key } = client as unknown as { processID: number; secretKey: number };
  const sock = (client as unknown as { connection: { stream: Socket } }).connection.stream;
  sock.removeAllListeners("data");
  // Raw's constructor is private: the socket is handed over as Raw.open does.
  const raw = new (Raw as unknown as new (s: Socket) => Raw)(sock);
  return { raw, pid, key };
}

/** libpq's PQcancel: a CancelRequest on a connection of its own. */
async function cancelRequest(port: number, pid: number, key: number): Promise<void> {
  const out = Buffer.alloc(16);
  out.writeInt32BE(16, 0);
  out.writeInt32BE(80877102, 4);
  out.writeInt32BE(pid, 8);
  out.writeInt32BE(key, 12);
  await new Promise<void>((resolve, reject) => {
    const c = connect(port, "127.0.0.1", () => c.end(out));
    c.on("close", () => resolve());
    c.on("error", reject);
  });
}

/** A Bind of the unnamed statement with text parameters. */
function bindText(...values: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from("\0\0"), u16(0), u16(values.length)];
  for (const v of values) {
    const b = Buffer.from(v);
    const len = Buffer.alloc(4);
    len.writeInt32BE(b.length);
    parts.push(len, b);
  }
  parts.push(u16(0));
  return msg("B", Buffer.concat(parts));
}
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

describe("a cancel of a statement held for approval, in a pipeline (libpq pipeline mode, tokio-postgres)", () => {
  // Ruby pg in pipeline mode sent a read, the held write and a Sync, then the next statement; PQcancel on
  // the held write withdrew it (57014) and then also cancelled the next statement: the read before it was
  // still unanswered (no Sync reached the server), so regate passed the cancel on, and it reached the
  // server (from a process of its own) after the next statement had started.
  it("withdraws the held write and cancels nothing after it", async () => {
    const status = async () => (await db.query("SELECT status FROM payments WHERE id = 41"))[0].status as string;
    const before = await status();
    const hits: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { raw, pid, key } = await openWithKey(holding.url());
      raw.send(parse("SELECT 1"), bind(), execute(), parse("UPDATE payments SET status = $1 WHERE id = 41"), bindText("failed"), execute(), sync(), query("SELECT pg_sleep(0.3), 3"));
      await raw.until((ms) => ms.some((m) => m.type === "N"));
      await cancelRequest(holding.port, pid, key);
      const all = await raw.readies(2);
      raw.close();
      const first = all.findIndex((m) => m.type === "Z");
      expect(sqlstates(all.slice(0, first))).toEqual(["57014"]);
      const after = all.slice(first + 1);
      if (sqlstates(after).length > 0) hits.push(`attempt ${i + 1}: ${sqlstates(after).join(",")}`);
      else expect(after.map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    }
    expect(hits).toEqual([]);
    expect(await status()).toBe(before);
    const pending = (await api(holding, "/approvals?status=pending")).body.approvals;
    expect(pending).toEqual([]);
  });

  it("must allow: a statement still running ahead of the held write is the one the cancel stops", async () => {
    const { raw, pid, key } = await openWithKey(holding.url());
    const t0 = Date.now();
    raw.send(parse("SELECT pg_sleep(20)"), bind(), execute(), parse("UPDATE payments SET status = $1 WHERE id = 42"), bindText("failed"), execute(), sync());
    await raw.until((ms) => ms.some((m) => m.type === "N"));
    // A cancel that reaches the server between messages is ignored by PostgreSQL itself: wait until it sleeps.
    await until(async () => (await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep'"))[0].n === 1);
    await cancelRequest(holding.port, pid, key);
    const got = await raw.readies(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(sqlstates(got)).toEqual(["57014"]);
    raw.send(query("SELECT 3"));
    const after = await raw.readies(1);
    raw.close();
    expect(after.map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
  });
});

describe("startup options as PHP's PDO and libpq's PGOPTIONS send them", () => {
  const connectWith = async (options: string) => {
    const c = new pg.Client({ connectionString: holding.url(), options } as pg.ClientConfig);
    c.on("error", () => undefined);
    try {
      await c.connect();
      const row = (await c.query("SELECT current_setting('client_encoding') AS e, current_setting('standard_conforming_strings') AS s, ssn FROM customers WHERE id = 2")).rows[0];
      return { ok: true, row };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  // PDO's pgsql DSN has no charset key: `options='--client_encoding=UTF8'` is its usual spelling, and regate
  // ended every such connection ("startup option client_encoding is not allowed").
  it.each(["--client_encoding=UTF8", "-c client_encoding=utf8", "-c client_encoding=unicode -c application_name=pdo", "-c standard_conforming_strings=on", "--standard-conforming-strings=true"])(
    "must allow: options '%s' asks for what regate holds the session to, and connects",
    async (options) => {
      expect(await connectWith(options)).toEqual({ ok: true, row: { e: "UTF8", s: "on", ssn: "****" } });
    },
  );

  it.each([
    ["-c client_encoding=LATIN1", "regate requires client_encoding UTF8"],
    ["--client_encoding=SJIS", "regate requires client_encoding UTF8"],
    ["-c standard_conforming_strings=off", "regate requires standard_conforming_strings on"],
    ["-c client_encoding", "regate requires client_encoding UTF8"],
  ])("options '%s' for any other value is refused, saying what regate needs", async (options, message) => {
    const got = await connectWith(options);
    expect(got.ok).toBe(false);
    expect(got.message).toContain(message);
  });

  it("a startup parameter standard_conforming_strings: on is taken as regate's own, off refused; neither goes upstream", () => {
    expect(screenStartupParams(new Map([["standard_conforming_strings", "on"], ["client_encoding", "UTF8"]]))).toEqual({ upstream: {}, dropped: [] });
    expect(() => screenStartupParams(new Map([["standard_conforming_strings", "off"]]))).toThrow("regate requires standard_conforming_strings on");
    expect(screenStartupParams(new Map([["options", "-c client_encoding=UTF8 -c search_path=public"]]))).toEqual({ upstream: { search_path: "public" }, dropped: [] });
  });
});

describe("detector masks in binary results (tokio-postgres and sqlx ask for binary for every column)", () => {
  /** The values of a DataRow; null for SQL NULL. */
  const values = (body: Buffer): (Buffer | null)[] => {
    const out: (Buffer | null)[] = [];
    let off = 2;
    for (let i = 0; i < body.readInt16BE(0); i++) {
      const len = body.readInt32BE(off);
      off += 4;
      out.push(len < 0 ? null : body.subarray(off, off + len));
      off += Math.max(len, 0);
    }
    return out;
  };
  /** Parse, a Bind asking binary for every column, Describe, Execute, Sync: tokio-postgres' query_typed. */
  const binaryRow = async (url: string, sql: string) => {
    const raw = await Raw.open(url);
    raw.send(parse(sql), msg("B", Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 1])), msg("D", Buffer.from("P\0")), execute(), sync());
    const got = await raw.readies(1);
    raw.close();
    return { got, row: values(got.find((m) => m.type === "D")!.body) };
  };

  // A text array's or a record's binary form holds each part's length. The email was masked in place and
  // the lengths left as they were: `ARRAY[body, 'tail']` came back with its first element claiming 39
  // bytes where 19 were left, so tokio-postgres and sqlx read the next element's header as text and failed
  // on the row. Nothing unmasked got through; the row could not be read at all.
  it("an array or a record with a hit inside is withheld whole (NULL); text, jsonb and bytea are masked in place", async () => {
    const sql = "SELECT ARRAY[body, 'tail'], ROW(body, 7), body, to_jsonb(body), convert_to(body, 'UTF8'), ARRAY['tail'] FROM notes";
    const { got, row } = await binaryRow(detecting.url(), sql);
    expect(got.map((m) => m.type)).toEqual(["1", "2", "T", "D", "C", "Z"]);
    expect(got.map((m) => m.body.toString("latin1")).join("")).not.toContain(NOTE_EMAIL);
    const [array, record, text, jsonb, bytea, untouched] = row;
    expect(array).toBeNull();
    expect(record).toBeNull();
    expect(text!.toString()).toBe("write to **** today");
    expect(jsonb!.toString("latin1")).toBe('\x01"write to **** today"');
    expect(bytea!.toString()).toBe("write to **** today");
    // must allow: a binary array without a hit goes out as the server sent it.
    const direct = await binaryRow(db.url(db.users.scram.user), sql);
    expect(untouched).toEqual(direct.row[5]);
  });

  it("must allow: in text format an array or a record is still masked in place", async () => {
    const raw = await Raw.open(detecting.url());
    raw.send(query("SELECT ARRAY[body, 'tail'] AS a, ROW(body, 7) AS r FROM notes"));
    const got = await raw.readies(1);
    raw.close();
    const [a, r] = values(got.find((m) => m.type === "D")!.body);
    expect(a!.toString()).toBe('{"write to **** today",tail}');
    expect(r!.toString()).toBe('("write to **** today",7)');
  });
});

describe("an empty statement through the extended protocol (pgjdbc's execute(\"\"), libpq's PQexecParams(\"\"))", () => {
  // The same text as a simple Query was answered EmptyQueryResponse; as a Parse it was refused ("empty
  // statement list"), so a pool's "-- ping" or pgjdbc's Statement.execute("") failed through regate only.
  it.each(["", "-- ping", " ;; /* nothing */ "])("must allow: %j is answered as the server answers it", async (sql) => {
    const raw = await Raw.open(holding.url());
    raw.send(parse(sql), bind(), msg("D", Buffer.from("P\0")), execute(), sync());
    const got = await raw.readies(1);
    raw.send(query("SELECT ssn FROM customers WHERE id = 2"));
    const after = await raw.readies(1);
    raw.close();
    expect(got.map((m) => m.type)).toEqual(["1", "2", "n", "I", "Z"]);
    expect(after.map((m) => m.type)).toEqual(["T", "D", "C", "Z"]);
    expect(after[1]!.body.toString()).toContain("****");
  });

  it("a denied statement hidden after a comment is still refused", async () => {
    const raw = await Raw.open(holding.url());
    raw.send(parse("-- ping\nDELETE FROM orders"), bind(), execute(), sync());
    const got = await raw.readies(1);
    raw.close();
    expect(sqlstates(got)).toEqual(["42501"]);
  });
});
