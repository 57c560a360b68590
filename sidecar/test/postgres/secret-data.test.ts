// regate's upstream password in data the server sends, judged by the bytes the agent got: a row of a table an
// operator keeps it in (as is, in base64 and hex, in a bytea, beside other text), a whole-row text, a NOTIFY
// payload another session sends, a long row split over TCP chunks. Each is overwritten with "*" one for one;
// other rows come through untouched.
import { Socket } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataSecretForms, MIN_LENGTH } from "../../src/postgres/secret-data.js";
import { secretForms } from "../../src/postgres/lifecycle/mask-rows.js";
import { buildAllowAllBundle } from "../reliability/support/bundles.js";
import { connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;
let password: string;
const seen: Buffer[] = [];

beforeAll(async () => {
  db = await startPostgres();
  password = db.users.scram.password;
  expect(password.length).toBeGreaterThanOrEqual(MIN_LENGTH);
  const b64 = Buffer.from(password).toString("base64");
  const hex = Buffer.from(password).toString("hex");
  await db.query(`CREATE TABLE public.app_config (k text PRIMARY KEY, v text, b bytea);
    INSERT INTO public.app_config VALUES
      ('db_password', '${password}', NULL), ('db_url', 'postgres://svc:${password}@db:5432/app', NULL),
      ('b64', '${b64}', NULL), ('hex', '${hex}', NULL), ('bytes', NULL, '${password}'::bytea),
      ('long', repeat('a', 300000) || '${password}' || repeat('b', 300000), NULL), ('plain', 'hello world', NULL);
    GRANT SELECT ON public.app_config TO ${db.users.scram.user}`);
  regate = await startRegate(db, { policy: { bundle: buildAllowAllBundle("secret-data") } });
  agent = await connectClient(regate.url());
  // Every byte regate sent the agent, as read off its socket.
  const sock = (agent as unknown as { connection: { stream: Socket } }).connection.stream;
  sock.on("data", (d: Buffer) => seen.push(Buffer.from(d)));
}, 120_000);

afterAll(async () => {
  await agent?.end();
  await regate?.stop();
  await db?.stop();
});

const stars = (s: string) => "*".repeat(s.length);
const value = async (k: string, col = "v") => (await agent.query(`SELECT ${col} FROM public.app_config WHERE k = '${k}'`)).rows[0][col];

describe("regate's upstream password in data", () => {
  it("a row holding it, as is or inside a URL, comes back with it overwritten, lengths kept", async () => {
    expect(await value("db_password")).toBe(stars(password));
    expect(await value("db_url")).toBe(`postgres://svc:${stars(password)}@db:5432/app`);
  });

  it("in base64 and in hex, and as a bytea's bytes", async () => {
    expect(await value("b64")).not.toContain(Buffer.from(password).toString("base64").slice(0, 12));
    expect(await value("hex")).not.toContain(Buffer.from(password).toString("hex"));
    const bytes: Buffer = await value("bytes", "b");
    expect(bytes.toString()).not.toContain(password);
  });

  it("in a row longer than a TCP chunk, and through a whole-row text", async () => {
    const long: string = await value("long");
    expect(long.length).toBe(600000 + password.length);
    expect(long).toBe(`${"a".repeat(300000)}${stars(password)}${"b".repeat(300000)}`);
    const row = (await agent.query("SELECT c::text AS t FROM public.app_config c WHERE k = 'db_password'")).rows[0].t as string;
    expect(row).not.toContain(password);
  });

  it("in a NOTIFY payload another session sends", async () => {
    await agent.query("LISTEN cfg");
    const got = new Promise<string>((resolve) => agent.once("notification", (n) => resolve(n.payload ?? "")));
    await db.query(`NOTIFY cfg, 'rotated to ${password}'`);
    expect(await got).toBe(`rotated to ${stars(password)}`);
  });

  it("other rows come through as they are, and the agent's socket never carried it", async () => {
    expect(await value("plain")).toBe("hello world");
    const all = Buffer.concat(seen);
    for (const form of secretForms(password)) expect(all.includes(form)).toBe(false);
  });

  it("a password shorter than the minimum is left alone in data (it spells ordinary names)", () => {
    expect(dataSecretForms("postgres", secretForms("postgres"))).toEqual([]);
    expect(dataSecretForms(password, secretForms(password)).length).toBeGreaterThan(0);
  });
});
