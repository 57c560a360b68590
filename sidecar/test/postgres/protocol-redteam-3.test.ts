// Startup-phase edges: direct TLS (libpq 17's sslnegotiation=direct), a startup that stalls mid-negotiation,
// and cancels over TLS. Judged by the bytes the client got and by what the server ran.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createSecureContext, type TLSSocket } from "node:tls";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentDirectory } from "../../src/identity/index.js";
import { acceptClient } from "../../src/postgres/client-auth.js";
import { exec } from "../support/exec.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { AGENT, startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let dir: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-proto3-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  regate = await startRegate(db, { postgres: { tls: { cert_file: join(dir, "cert.pem"), key_file: join(dir, "key.pem") } } });
});

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

function code(n: number, ...ints: number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * ints.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(n, 4);
  ints.forEach((v, i) => b.writeInt32BE(v, 8 + 4 * i));
  return b;
}

/** Collects what arrives on `s` until it closes or `done` says enough. */
function collect(s: Socket, done: (got: Buffer) => boolean = () => false): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (done(got)) resolve(got);
    });
    s.on("error", () => resolve(got));
    s.on("close", () => resolve(got));
  });
}

/** Message type bytes of a backend stream (no SSL answer byte in front). */
function types(b: Buffer): string {
  let out = "";
  for (let at = 0; at + 5 <= b.length; at += 1 + b.readInt32BE(at + 1)) out += String.fromCharCode(b[at]!);
  return out;
}

const ready = (b: Buffer) => types(b).endsWith("Z");

/** A direct TLS connection: ClientHello first, no SSLRequest. */
function direct(alpn: string[] | undefined): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: regate.port, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
}

describe("direct TLS (sslnegotiation=direct): a ClientHello in place of an SSLRequest", () => {
  it("with ALPN postgresql the session runs over TLS: the agent authenticates with its token and queries", async () => {
    const s = await direct(["postgresql"]);
    expect(s.alpnProtocol).toBe("postgresql");
    const auth = collect(s, (b) => types(b) === "R");
    s.write(serialize.startup({ user: "anyone", database: "db" }));
    // Cleartext token: offered only because the leg is encrypted (client-auth.ts).
    expect((await auth).readInt32BE(5)).toBe(3);
    s.removeAllListeners("data");
    const started = collect(s, ready);
    s.write(serialize.password(AGENT.token));
    expect(types(await started)).toMatch(/^R(S)+KZ$/);
    s.removeAllListeners("data");
    const answer = collect(s, ready);
    s.write(serialize.query("SELECT 'over-direct-tls' AS x"));
    const got = await answer;
    expect(types(got)).toBe("TDCZ");
    expect(got.toString("latin1")).toContain("over-direct-tls");
    s.end(serialize.end());
    expect(regate.logs()).toMatch(/"tls":true[^\n]*"msg":"session started"|"msg":"session started"[^\n]*"tls":true/);
  });

  it.each([[undefined], [["http/1.1"]]])("must refuse: without ALPN postgresql (offered: %j) no startup is read, and regate serves others", async (alpn) => {
    const got = await direct(alpn).then(
      async (s) => {
        const out = collect(s);
        s.write(serialize.startup({ user: "anyone", database: "db" }));
        return out;
      },
      () => Buffer.alloc(0),
    );
    expect(got.includes(Buffer.from("R"))).toBe(false);
    const c = new pg.Client({ connectionString: regate.url() });
    await c.connect();
    expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await c.end();
  });
});

describe("a startup refused after TLS is negotiated reaches the client through TLS, with its SQLSTATE", () => {
  const tlsClient = (password: string, extra: Record<string, string> = {}) =>
    new pg.Client({ host: "127.0.0.1", port: regate.port, user: "anyone", password, database: "db", ssl: { rejectUnauthorized: false }, ...extra } as pg.ClientConfig);

  it.each([
    ["a wrong token", "not-the-token", {}, "28P01"],
    ["options -c role=postgres", AGENT.token, { options: "-c role=postgres" }, "0A000"],
    ["options -c session_replication_role=replica", AGENT.token, { options: "-c session_replication_role=replica" }, "0A000"],
    ["options --session_authorization=postgres", AGENT.token, { options: "--session_authorization=postgres" }, "0A000"],
  ])("SSLRequest then %s: node-postgres reads the error, not an SSL failure", async (_what, password, extra, sqlstate) => {
    const c = tlsClient(password, extra);
    const err = (await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string } | undefined;
    await c.end().catch(() => undefined);
    expect(err?.code).toBe(sqlstate);
  });

  it("psql with sslmode=require and a wrong token reads regate's FATAL", async () => {
    const r = await exec("psql", [`postgres://${AGENT.user}:wrong@127.0.0.1:${regate.port}/db?sslmode=require`, "-c", "SELECT 1"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("FATAL:  authentication failed");
    expect(r.stderr).not.toContain("SSL");
  });

  it("direct TLS with replication=database: the refusal arrives inside TLS", async () => {
    const s = await direct(["postgresql"]);
    const got = collect(s);
    s.write(serialize.startup({ user: "anyone", database: "db", replication: "database" }));
    const out = await got;
    expect(types(out)).toBe("E");
    expect(out.toString("latin1")).toContain("C0A000\0Mreplication connections are not allowed");
  });
});

describe("application_name: the policy's input names what the server was given", () => {
  it("set through options (-c application_name=…), as PGOPTIONS or PDO send it", async () => {
    const c = new pg.Client({ connectionString: regate.url(), options: "-c application_name=via-options" } as pg.ClientConfig);
    await c.connect();
    const server = (await c.query("SELECT current_setting('application_name') AS a")).rows[0];
    await c.end();
    expect(server).toEqual({ a: "via-options" });
    expect(regate.decisions().filter((e) => e.input?.session?.application_name === "via-options").length).toBeGreaterThan(0);
  });
});

describe("a startup that stalls is ended, wherever it stalls", () => {
  /** acceptClient on a listener of its own, with a short deadline: the production one is PostgreSQL's 60 s. */
  async function stalled(send: (s: Socket) => void): Promise<{ error: unknown; closed: boolean }> {
    const context = createSecureContext({ cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) });
    let result!: Promise<unknown>;
    const server = createServer((sock) => {
      result = acceptClient(sock, { tls: context, agents: { directory: {} as AgentDirectory, scram: new Map() }, maxMessageBytes: 65536, startupTimeoutMs: 200 }).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const s = connect(port, "127.0.0.1");
    const closed = collect(s).then(() => true);
    await new Promise((r) => s.once("connect", r));
    send(s);
    const error = await new Promise<unknown>((r) => setImmediate(() => r(result))).then(() => result);
    const out = { error, closed: await closed };
    server.close();
    return out;
  }

  it("an SSLRequest answered S, then no TLS handshake", async () => {
    const got = await stalled((s) => s.write(code(SSL_REQUEST)));
    expect(got).toMatchObject({ error: { code: "PROTOCOL_VIOLATION", message: "startup did not complete in time" }, closed: true });
  });

  it("a direct TLS record header, then nothing", async () => {
    const got = await stalled((s) => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80])));
    expect(got).toMatchObject({ error: { code: "PROTOCOL_VIOLATION", message: "startup did not complete in time" }, closed: true });
  });
});

describe("cancels: over TLS as libpq 17 sends them, and with a key of another length", () => {
  const connected = async () => {
    const c = new pg.Client({ connectionString: regate.url() });
    c.on("error", () => undefined);
    await c.connect();
    const k = c as unknown as { processID: number; secretKey: number };
    return { c, pid: k.processID, key: k.secretKey };
  };

  it("must allow: SSLRequest, TLS, then the CancelRequest inside it stops the statement", async () => {
    const { c, pid, key } = await connected();
    const running = c.query("SELECT pg_sleep(20)").then(() => "finished", (e: { code?: string }) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    const s = connect(regate.port, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    const answer = new Promise<Buffer>((r) => s.once("data", r));
    s.write(code(SSL_REQUEST));
    expect((await answer).toString()).toBe("S");
    const t = tlsConnect({ socket: s, rejectUnauthorized: false });
    await new Promise((r) => t.once("secureConnect", r));
    t.on("error", () => undefined);
    t.write(code(CANCEL_REQUEST, pid, key));
    expect(await running).toBe("57014");
    await c.end();
  });

  it("a protocol 3.2 length key (32 bytes) that starts with the issued key cancels nothing", async () => {
    const { c, pid, key } = await connected();
    const short = c.query("SELECT pg_sleep(1.5), 'ran to the end' AS r");
    await new Promise((r) => setTimeout(r, 300));
    const long = Buffer.alloc(12 + 32);
    long.writeInt32BE(long.length, 0);
    long.writeInt32BE(CANCEL_REQUEST, 4);
    long.writeInt32BE(pid, 8);
    long.writeInt32BE(key, 12);
    const s = connect(regate.port, "127.0.0.1");
    await collect(s.once("connect", () => s.write(long)));
    expect((await short).rows[0]).toMatchObject({ r: "ran to the end" });
    await c.end();
  });
});
