// A protocol-level PostgreSQL client for tests: authenticates through node-postgres, then sends messages
// exactly as given (pipelined, batches no driver would send) and reads the replies one by one.
import type { Socket } from "node:net";
import pg from "pg";

/** A protocol-level client: sends bytes as given (pipelined), reads replies message by message. */
export class Raw {
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  readonly messages: { type: string; body: Buffer }[] = [];
  private constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 5) {
        const len = this.#buf.readInt32BE(1);
        if (this.#buf.length < 1 + len) break;
        this.messages.push({ type: String.fromCharCode(this.#buf[0]!), body: this.#buf.subarray(5, 1 + len) });
        this.#buf = this.#buf.subarray(1 + len);
      }
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Authenticates through node-postgres (SCRAM), then takes its socket over. */
  static async open(url: string): Promise<Raw> {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    await client.connect();
    const sock = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    sock.removeAllListeners("data");
    return new Raw(sock);
  }

  async until(done: (m: { type: string; body: Buffer }[]) => boolean): Promise<void> {
    while (!done(this.messages)) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Waits for `n` more ReadyForQuery messages than were seen so far; returns the messages in between. */
  async readies(n: number): Promise<{ type: string; body: Buffer }[]> {
    const from = this.messages.length;
    const count = () => this.messages.slice(from).filter((m) => m.type === "Z").length;
    await this.until(() => count() >= n);
    return this.messages.slice(from);
  }

  send(...parts: Buffer[]): void {
    this.sock.write(Buffer.concat(parts));
  }

  close(): void {
    this.sock.end(msg("X", Buffer.alloc(0)));
  }
}

export function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}
export const query = (sql: string) => msg("Q", Buffer.from(`${sql}\0`));
export const parse = (sql: string, name = "") => msg("P", Buffer.concat([Buffer.from(`${name}\0${sql}\0`), Buffer.from([0, 0])]));
/** A Bind of `statement` to the unnamed portal, without parameters. */
export const bind = (statement = "") => msg("B", Buffer.concat([Buffer.from(`\0${statement}\0`), Buffer.from([0, 0, 0, 0, 0, 0])]));
export const execute = () => msg("E", Buffer.from([0, 0, 0, 0, 0]));
export const sync = () => msg("S", Buffer.alloc(0));
export const step = (sql: string) => [parse(sql), bind(), execute()];

type Reply = { type: string; body: Buffer };
/** The SQLSTATE of every ErrorResponse among `replies`, in order. */
export const errorCodes = (replies: Reply[]) => replies.filter((m) => m.type === "E").map((m) => /C([0-9A-Z]{5})\0/.exec(m.body.toString("latin1"))![1]!);
/** The transaction status of every ReadyForQuery among `replies` ("I", "T" or "E"), in order. */
export const readyStatuses = (replies: Reply[]) => replies.filter((m) => m.type === "Z").map((m) => String.fromCharCode(m.body[0]!));

/** Runs `use` on a Raw session opened on `url`, closed afterwards whatever happens. */
export async function withRaw<T>(url: string, use: (raw: Raw) => Promise<T>): Promise<T> {
  const raw = await Raw.open(url);
  try {
    return await use(raw);
  } finally {
    raw.close();
  }
}


/** A column of a RowDescription body, as the client is told it. */
export interface RowField {
  name: string;
  typeOid: number;
  format: number;
}

export function rowFields(body: Buffer): RowField[] {
  const out: RowField[] = [];
  let at = 2;
  for (let i = 0; i < body.readInt16BE(0); i++) {
    const end = body.indexOf(0, at);
    const name = body.toString("utf8", at, end);
    at = end + 1;
    out.push({ name, typeOid: body.readInt32BE(at + 6), format: body.readInt16BE(at + 16) });
    at += 18;
  }
  return out;
}

/** The values of a DataRow body: null for SQL NULL. */
export function dataRowValues(body: Buffer): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  let at = 2;
  for (let i = 0; i < body.readInt16BE(0); i++) {
    const len = body.readInt32BE(at);
    at += 4;
    out.push(len < 0 ? null : body.subarray(at, at + len));
    if (len > 0) at += len;
  }
  return out;
}
