import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

// The upstream leg with libpq sslmode semantics: require encrypts, verify-full also checks the
// chain and the host name, and neither ever falls back to plaintext.

let tlsDb: TestPostgres;
let plainDb: TestPostgres;
let dir: string;

function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "regate-uptls-"));
  chmodSync(dir, 0o755);
  const server = selfSigned("server");
  selfSigned("other");
  // PostgreSQL refuses a key that others can read; it runs as `postgres` when the tests run as root.
  chmodSync(server.key, 0o600);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
    chownSync(server.key, uid, gid);
  }
  tlsDb = await startPostgres({ settings: { ssl: "on", ssl_cert_file: server.cert, ssl_key_file: server.key } });
  plainDb = await startPostgres({ loadDemo: false });
});

afterAll(async () => {
  await tlsDb?.stop();
  await plainDb?.stop();
});

async function sslInUse(regate: TestRegate): Promise<boolean> {
  const c = new pg.Client({ connectionString: regate.url() });
  await c.connect();
  try {
    return (await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl as boolean;
  } finally {
    await c.end();
  }
}

async function refused(regate: TestRegate): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: regate.url() });
  try {
    await c.connect();
    await c.end();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe("upstream TLS", () => {
  it("sslmode=require encrypts the upstream leg", async () => {
    const r = await startRegate(tlsDb, { postgres: { upstream: { sslmode: "require" } } });
    try {
      expect(await sslInUse(r)).toBe(true);
    } finally {
      await r.stop();
    }
  });

  it("sslmode=verify-full accepts the right CA and host, refuses another CA", async () => {
    const good = await startRegate(tlsDb, { postgres: { upstream: { sslmode: "verify-full", ca_file: join(dir, "server.crt") } } });
    try {
      expect(await sslInUse(good)).toBe(true);
    } finally {
      await good.stop();
    }
    const bad = await startRegate(tlsDb, { postgres: { upstream: { sslmode: "verify-full", ca_file: join(dir, "other.crt") } } });
    try {
      expect(await refused(bad)).toBe("08006");
      expect(bad.logs()).toMatch(/TLS to upstream failed/);
    } finally {
      await bad.stop();
    }
  });

  it("never downgrades: require against a server without TLS is refused", async () => {
    const r = await startRegate(plainDb, { postgres: { upstream: { sslmode: "require" } } });
    try {
      expect(await refused(r)).toBe("08006");
      expect(r.logs()).toMatch(/upstream refused TLS/);
    } finally {
      await r.stop();
    }
  });

  it("sslmode=disable stays in plaintext", async () => {
    const r = await startRegate(tlsDb, { postgres: { upstream: { sslmode: "disable" } } });
    try {
      expect(await sslInUse(r)).toBe(false);
    } finally {
      await r.stop();
    }
  });
});
