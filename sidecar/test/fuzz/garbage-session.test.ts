// Through a running regate: one raw TCP connection authenticates as an agent and then sends garbage.
// That connection gets 08P01 and is closed, regate logs why, and another agent's session keeps working.
import { connect, type Socket } from "node:net";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, decodeNotice, FrameReader, type Frame } from "../../src/postgres/protocol/index.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";
import { mutate, Rng } from "./mutate.js";

let db: TestPostgres;
let regate: TestRegate;
let other: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  regate = await startRegate(db);
  other = new pg.Client({ connectionString: regate.url() });
  other.on("error", () => undefined);
  await other.connect();
});

afterAll(async () => {
  await other?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

/**
 * An agent connection logged in by node-postgres (SCRAM or token, whatever regate asks), whose socket the
 * test then writes raw bytes to. Frames what regate sends from then on, and knows when regate closed it.
 */
class RawAgent {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  readonly #reader = new FrameReader(1 << 24);
  readonly #waiters: (() => void)[] = [];
  private constructor(
    readonly client: pg.Client,
    readonly sock: Socket,
  ) {
    sock.on("data", (chunk: Buffer) => {
      this.#reader.push(chunk, (f) => {
        this.frames.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
      });
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => (sock.destroyed ? resolve() : sock.once("close", () => resolve())));
  }
  static async open(): Promise<RawAgent> {
    const client = new pg.Client({ connectionString: regate.url() });
    client.on("error", () => undefined);
    await client.connect();
    // node-postgres keeps its socket on the connection; the test talks past the driver from here on.
    const sock = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    return new RawAgent(client, sock);
  }
  async until(type: number, ms = 10_000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find((x) => x.type === type);
      if (f) return f;
      if (Date.now() > deadline || this.sock.destroyed) {
        const got = this.frames.map((x) => (x.type === Backend.ErrorResponse ? JSON.stringify(decodeNotice(x.body)) : String.fromCharCode(x.type)));
        throw new Error(`no message ${String.fromCharCode(type)} from regate (got ${got.join(" ") || "nothing"})`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))]);

describe("garbage on one connection after startup", () => {
  it("an impossible message length: that client gets 08P01 and is closed, regate logs it, the other session works", async () => {
    const raw = await RawAgent.open();
    await expect(other.query("SELECT 1 AS one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    // 'Q' with a length of 2 GiB, then noise.
    raw.sock.write(Buffer.from("517fffffff0001020304fffefd", "hex"));
    const err = decodeNotice((await raw.until(Backend.ErrorResponse)).body);
    expect(err["C"]).toBe("08P01");
    await withTimeout(raw.closed, 5_000, "regate closing the garbage connection");
    const line = regate.logs().split("\n").find((l) => l.includes("invalid message length 2147483647"));
    expect(line, "a log line naming the bad length").toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: "warn", code: "PROTOCOL_VIOLATION", msg: "closing session", component: "postgres" });
    await expect(other.query("SELECT 2 AS two")).resolves.toMatchObject({ rows: [{ two: 2 }] });
  });

  it("twenty connections fed mutated protocol bytes (seed 3) leave another agent's session and new logins working", async () => {
    const rng = new Rng(3);
    const seeds = [
      serialize.query("SELECT 1"),
      serialize.parse({ name: "s", text: "SELECT $1::text" }),
      serialize.bind({ statement: "s", values: ["x"] }),
      serialize.describe({ type: "P" }),
      serialize.execute(),
      serialize.sync(),
    ];
    const garbage = Array.from({ length: 20 }, () => Buffer.concat(Array.from({ length: 4 }, () => mutate(rng, rng.pick(seeds), { pool: seeds, maxLength: 512 }))));
    const sessions = await Promise.all(garbage.map(() => RawAgent.open()));
    sessions.forEach((s, i) => s.sock.write(garbage[i]!));
    // The other agent's session, meanwhile, goes on with its work.
    for (let i = 0; i < 10; i++) await expect(other.query("SELECT $1::int AS n", [i])).resolves.toMatchObject({ rows: [{ n: i }] });
    // Whatever each garbage connection got, regate is still whole: hang them up and log in afresh.
    await Promise.all(sessions.map(async (s) => {
      s.sock.end();
      await withTimeout(s.closed, 10_000, "a garbage connection closing");
    }));
    const fresh = new pg.Client({ connectionString: regate.url() });
    await fresh.connect();
    await expect(fresh.query("SELECT 3 AS three")).resolves.toMatchObject({ rows: [{ three: 3 }] });
    await fresh.end();
    const violations = regate.logs().split("\n").filter((l) => l.includes("PROTOCOL_VIOLATION") || l.includes("08P01"));
    expect(violations.length).toBeGreaterThan(0);
    // An unexpected exception would be logged as an internal error: none may come from garbage.
    expect(regate.logs()).not.toMatch(/"code":"INTERNAL"|XX000|TypeError|RangeError/);
  }, 60_000);

  it("forty connections fed mutated startup bytes (SSLRequest, StartupMessage, CancelRequest, password; seed 5) leave regate serving", async () => {
    const rng = new Rng(5);
    const seeds = [
      serialize.requestSsl(),
      serialize.startup({ user: "test-agent", database: db.database, client_encoding: "UTF8" }),
      serialize.startup({ user: "test-agent", options: "-c search_path=public", application_name: "fuzz" }),
      serialize.cancel(1234, 5678),
      serialize.password("not-the-token"),
    ];
    const inputs = Array.from({ length: 40 }, () => Buffer.concat(Array.from({ length: 1 + rng.int(3) }, () => mutate(rng, rng.pick(seeds), { pool: seeds, maxLength: 512 }))));
    // One connection after another: each must be refused or let go, whatever its bytes.
    const stuck: string[] = [];
    for (const bytes of inputs) {
      const sock = connect(regate.port, "127.0.0.1");
      sock.on("error", () => undefined);
      // Read (and drop) what regate answers: a paused socket never sees regate's FIN, so never closes.
      sock.resume();
      const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
      await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
      sock.write(bytes);
      // Whatever regate answered (or is still waiting for), hang up; regate must let go of the socket.
      await new Promise((r) => setTimeout(r, 100));
      sock.end();
      await withTimeout(closed, 10_000, "close").catch(() => stuck.push(bytes.toString("hex")));
    }
    expect(stuck).toEqual([]);
    await expect(other.query("SELECT 4 AS four")).resolves.toMatchObject({ rows: [{ four: 4 }] });
    const fresh = new pg.Client({ connectionString: regate.url() });
    await fresh.connect();
    await expect(fresh.query("SELECT 5 AS five")).resolves.toMatchObject({ rows: [{ five: 5 }] });
    await fresh.end();
    expect(regate.logs()).not.toMatch(/"code":"INTERNAL"|XX000|TypeError|RangeError/);
  }, 60_000);
});
