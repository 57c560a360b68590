import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec, execOk } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let dir: string;
let jwt: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-proto-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }));
  jwt = await new SignJWT({ groups: ["analysts"] }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("oidc-agent").setIssuer("https://idp.test").setExpirationTime("10m").sign(privateKey);
  regate = await startRegate(db, {
    postgres: { tls: { cert_file: join(dir, "cert.pem"), key_file: join(dir, "key.pem") }, limits: { max_message_bytes: 65536 } },
    agents: { jwt: { jwks_file: join(dir, "jwks.json"), issuer: "https://idp.test" } },
  });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const query = async (url: string, sql: string) => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
};

/** Sends raw bytes on a fresh connection and returns everything the server sent back until it closed. */
function raw(bytes: Buffer[], waitMs = 1500): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(regate.port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (d) => got.push(d));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(got)));
    s.on("connect", async () => {
      for (const b of bytes) {
        s.write(b);
        await new Promise((r) => setTimeout(r, 50));
      }
      setTimeout(() => s.destroy(), waitMs);
    });
  });
}

describe("agent authentication", () => {
  it("SCRAM-SHA-256 with the agent's token (user = subject)", async () => {
    expect(await query(regate.url(), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  it("a token as cleartext password over TLS, whatever the user name", async () => {
    const c = new pg.Client({ host: "127.0.0.1", port: regate.port, user: "anyone", password: AGENT.token, database: "db", ssl: { rejectUnauthorized: false } });
    await c.connect();
    const [row] = (await c.query("SELECT 1 AS one")).rows;
    expect(row).toEqual({ one: 1 });
    expect((c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted).toBe(true);
    await c.end();
  });

  it("a JWT verified against the JWKS; the principal carries its subject and groups", async () => {
    expect(await query(`postgres://jwt:${jwt}@127.0.0.1:${regate.port}/db?sslmode=disable`, "SELECT 2 AS two")).toEqual([{ two: 2 }]);
    const log = regate.decisions().find((d) => d.input?.session?.principal?.subject === "oidc-agent");
    expect(log?.input.session.principal).toMatchObject({ subject: "oidc-agent", groups: ["analysts"], auth_method: "jwt" });
    expect(regate.logs()).not.toContain(jwt);
  });

  it("refuses bad credentials with 28P01", async () => {
    await expect(query(`postgres://jwt:${jwt}x@127.0.0.1:${regate.port}/db?sslmode=disable`, "SELECT 1")).rejects.toMatchObject({ code: "28P01" });
    await expect(query(regate.url(AGENT.user, "nope"), "SELECT 1")).rejects.toMatchObject({ code: "28P01" });
  });

  it("psql with sslmode=require", async () => {
    const tlsSessions = () => regate.logs().split("\n").filter((l) => l.includes('"msg":"session started"') && l.includes('"tls":true')).length;
    const before = tlsSessions();
    const out = await execOk("psql", [`postgres://${AGENT.user}:${AGENT.token}@127.0.0.1:${regate.port}/db?sslmode=require`, "-Atc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]);
    // The agent's leg negotiated TLS; the upstream leg is plain in this setup.
    expect(tlsSessions()).toBe(before + 1);
    expect(out.trim()).toBe("f");
  });
});

describe("startup screening", () => {
  it("refuses replication connections", async () => {
    const out = await raw([serialize.startup({ user: AGENT.user, database: "db", replication: "database" })]);
    expect(out.toString("latin1")).toContain("replication connections are not allowed");
  });

  it("refuses a client encoding other than UTF8", async () => {
    const r = await exec("psql", [regate.url(), "-c", "SELECT 1"], { env: { ...process.env, PGCLIENTENCODING: "SJIS" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("client_encoding UTF8");
  });

  it("answers GSSENCRequest with N, then serves the plain startup", async () => {
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    const out = await raw([gss, serialize.startup({ user: AGENT.user, database: "db" })]);
    expect(out[0]).toBe(0x4e);
    expect(out[1]).toBe(0x52); // then AuthenticationSASL
  });

  it("negotiates protocol 3.2 and _pq_ options down to 3.0 instead of failing", async () => {
    const params = Buffer.from(`user\0${AGENT.user}\0_pq_.future_option\0on\0\0`);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE((3 << 16) | 2, 4);
    params.copy(startup, 8);
    const out = await raw([startup]);
    expect(out[0]).toBe(0x76); // NegotiateProtocolVersion
    expect(out.readInt32BE(5)).toBe(3 << 16);
    expect(out.readInt32BE(9)).toBe(1);
    expect(out.toString("latin1", 13, 13 + "_pq_.future_option".length)).toBe("_pq_.future_option");
    expect(out.includes(Buffer.from([0x52]))).toBe(true);
  });

  it("drops a CancelRequest with a key regate did not issue", async () => {
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80877102, 4);
    cancel.writeInt32BE(12345, 8);
    cancel.writeInt32BE(67890, 12);
    expect((await raw([cancel], 300)).length).toBe(0);
    expect(await query(regate.url(), "SELECT 4 AS four")).toEqual([{ four: 4 }]);
    expect(regate.logs()).toContain("cancel request with an unknown key dropped");
  });

  it("ignores bytes sent after an SSLRequest before the handshake", async () => {
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    const out = await raw([Buffer.concat([ssl, serialize.startup({ user: AGENT.user, database: "db" })])]);
    expect(out.toString("latin1")).toContain("unencrypted data after SSL request");
  });
});

describe("malformed traffic", () => {
  it("a malformed message gets 08P01, that connection closes, others carry on", async () => {
    const other = new pg.Client({ connectionString: regate.url() });
    await other.connect();
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    const closed = new Promise<void>((r) => c.on("end", () => r()));
    c.on("error", () => undefined);
    const stream = (c as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream;
    // A Bind whose declared length runs past its fields.
    stream.write(Buffer.from([0x42, 0, 0, 0, 12, 0, 0, 0, 0xff, 0xff, 0, 0, 0]));
    await closed;
    expect((await other.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
    await other.end();
    expect(regate.logs()).toMatch(/PROTOCOL_VIOLATION/);
  });

  it("a message over the size cap is refused", async () => {
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    c.on("error", () => undefined);
    await expect(c.query(`SELECT '${"x".repeat(70_000)}'`)).rejects.toThrow();
    await c.end().catch(() => undefined);
  });
});

describe("other protocol paths", () => {
  it("COPY FROM STDIN into an allowed table streams through", async () => {
    const before = Number(await execOk("psql", [db.url(), "-Atc", "SELECT count(*) FROM orders"]));
    const r = await exec("psql", [regate.url(), "-c", "\\copy orders (customer_id, amount, status, created_at) FROM STDIN"], {
      input: "1\t10.00\tpending\t2026-01-01\n2\t20.00\tpaid\t2026-01-02\n\\.\n",
    });
    expect(r.status, r.stderr).toBe(0);
    const after = Number(await execOk("psql", [db.url(), "-Atc", "SELECT count(*) FROM orders"]));
    expect(after).toBe(before + 2);
  });

  it("the FunctionCall message (libpq large objects) is denied, the session continues", async () => {
    const file = join(dir, "blob.txt");
    writeFileSync(file, "data");
    const r = await exec("psql", [regate.url(), "-c", `\\lo_import ${file}`, "-c", "SELECT 5 AS five"]);
    expect(r.stderr).toMatch(/FunctionCall messages are not allowed|denied|regate/);
    expect(r.stdout).toContain("5");
    expect((await execOk("psql", [db.url(), "-Atc", "SELECT count(*) FROM pg_largeobject_metadata"])).trim()).toBe("0");
  });

  it("psql meta-commands work: \\d, \\dt, \\d+", async () => {
    const out = await execOk("psql", [regate.url(), "-c", "\\d", "-c", "\\dt", "-c", "\\d+ public.customers"]);
    expect(out).toContain("customers");
    expect(out).toContain("card_number");
  });
});

describe("upstream failures", () => {
  it("a dead upstream gives the agent a clear error; regate keeps serving", async () => {
    const broken = await startRegate(db, { postgres: { upstream: { port: 1 } } });
    try {
      await expect(query(broken.url(), "SELECT 1")).rejects.toMatchObject({ code: "08006" });
    } finally {
      await broken.stop();
    }
    expect(await query(regate.url(), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  it("a wrong upstream password never appears anywhere", async () => {
    const wrong = await startRegate(db, { postgres: { upstream: { password: { value: "definitely-wrong-pw-123" } } } });
    try {
      const err = await query(wrong.url(), "SELECT 1").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("08006");
      expect((err as Error).message).not.toContain("definitely-wrong-pw-123");
      expect(wrong.logs()).not.toContain("definitely-wrong-pw-123");
    } finally {
      await wrong.stop();
    }
  });

  it("md5 upstream authentication", async () => {
    const md5 = await startRegate(db, { postgres: { upstream: { user: db.users.md5.user, password: { value: db.users.md5.password } } } });
    try {
      expect(await query(md5.url(), "SELECT current_user AS u")).toEqual([{ u: db.users.md5.user }]);
      expect(md5.logs()).not.toContain(db.users.md5.password);
    } finally {
      await md5.stop();
    }
  });
});
