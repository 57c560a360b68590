import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { serialize } from "pg-protocol";
import type { UpstreamConfig } from "../config/index.js";
import { RegateError } from "../errors.js";
import { md5Password, ScramClient } from "./auth/scram.js";
import { simpleQuery } from "./simple-query.js";
import { Auth, Backend, FrameReader, decodeAuthentication, decodeBackendKeyData, decodeNotice, decodeParameterStatus, readyStatus, SSL_REQUEST } from "./protocol/index.js";

export interface UpstreamConnection {
  socket: Socket | TLSSocket;
  /** ParameterStatus values the server sent at startup. */
  params: Map<string, string>;
  backendKey: { pid: number; key: Buffer } | undefined;
  txStatus: number;
  /** Bytes that arrived after ReadyForQuery (none in practice; kept so nothing is lost). */
  leftover: Buffer | undefined;
  /** What SCRAM told that stands for the password: the base64 StoredKey and ServerKey pg_authid keeps (upstream-secrets.ts). */
  secretTexts: readonly string[];
}

/**
 * Opens an authenticated session to the real database with regate's credentials. sslmode follows
 * libpq: require encrypts without verifying, verify-full verifies chain and host name; neither downgrades.
 */
export async function connectUpstream(cfg: UpstreamConfig, startupParams: Record<string, string>): Promise<UpstreamConnection> {
  const socket = await openSocket(cfg);
  try {
    return await handshake(socket, cfg, startupParams);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function timeout<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new RegateError("UPSTREAM_UNAVAILABLE", `${what} timed out`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function openSocket(cfg: UpstreamConfig): Promise<Socket | TLSSocket> {
  const tcp = await timeout(
    cfg.connect_timeout_ms,
    new Promise<Socket>((resolve, reject) => {
      // Keepalive: an upstream that vanishes (network partition, host gone) is seen instead of waited for.
      const s = netConnect({ host: cfg.host, port: cfg.port, keepAlive: true, keepAliveInitialDelay: 10_000 });
      s.setNoDelay(true);
      s.once("connect", () => resolve(s));
      s.once("error", (cause) => reject(new RegateError("UPSTREAM_UNAVAILABLE", `cannot connect to upstream ${cfg.host}:${cfg.port}`, { cause })));
    }),
    "upstream connect",
  );
  if (cfg.sslmode === "disable") return tcp;
  const answer = await timeout(
    cfg.connect_timeout_ms,
    new Promise<number>((resolve, reject) => {
      tcp.once("data", (b: Buffer) => (b.length === 1 ? resolve(b[0]!) : reject(new RegateError("UPSTREAM_UNAVAILABLE", "unexpected answer to SSLRequest"))));
      tcp.once("error", (cause) => reject(new RegateError("UPSTREAM_UNAVAILABLE", "upstream closed during SSLRequest", { cause })));
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(SSL_REQUEST, 4);
      tcp.write(req);
    }),
    "upstream SSLRequest",
  );
  if (answer !== 0x53) {
    tcp.destroy();
    throw new RegateError("UPSTREAM_UNAVAILABLE", `upstream refused TLS and sslmode is ${cfg.sslmode}`);
  }
  const verify = cfg.sslmode === "verify-full";
  return timeout(
    cfg.connect_timeout_ms,
    new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({
        socket: tcp,
        servername: cfg.host,
        rejectUnauthorized: verify,
        ...(verify && cfg.ca_file ? { ca: readFileSync(cfg.ca_file) } : {}),
        ...(verify ? {} : { checkServerIdentity: () => undefined }),
      });
      t.once("secureConnect", () => resolve(t));
      t.once("error", (cause) => reject(new RegateError("UPSTREAM_UNAVAILABLE", "TLS to upstream failed", { cause })));
    }),
    "upstream TLS handshake",
  );
}

function handshake(socket: Socket | TLSSocket, cfg: UpstreamConfig, startupParams: Record<string, string>): Promise<UpstreamConnection> {
  return timeout(
    cfg.connect_timeout_ms,
    new Promise<UpstreamConnection>((resolve, reject) => {
      const reader = new FrameReader(1 << 20);
      const params = new Map<string, string>();
      let backendKey: UpstreamConnection["backendKey"];
      let scram: ScramClient | undefined;
      const password = () => {
        if (!cfg.password) throw new RegateError("UPSTREAM_AUTH_FAILED", "upstream asks for a password and none is configured");
        return cfg.password.reveal();
      };
      const fail = (err: unknown) => {
        socket.removeListener("data", onData);
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        try {
          reader.push(chunk, (f) => {
            switch (f.type) {
              case Backend.Authentication: {
                const { code, data } = decodeAuthentication(f.body);
                if (code === Auth.Ok) return;
                if (code === Auth.CleartextPassword) {
                  if (cfg.sslmode === "disable" && !isLoopback(cfg.host)) {
                    throw new RegateError("UPSTREAM_AUTH_FAILED", "upstream asks for a cleartext password over an unencrypted connection");
                  }
                  socket.write(serialize.password(password()));
                } else if (code === Auth.MD5Password) {
                  socket.write(serialize.password(md5Password(cfg.user, password(), data.subarray(0, 4))));
                } else if (code === Auth.SASL) {
                  const mechanisms = data.toString("utf8").split("\0");
                  if (!mechanisms.includes("SCRAM-SHA-256")) throw new RegateError("UPSTREAM_AUTH_FAILED", "upstream offers no SCRAM-SHA-256");
                  scram = new ScramClient(password());
                  socket.write(serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", scram.first()));
                } else if (code === Auth.SASLContinue && scram) {
                  socket.write(serialize.sendSCRAMClientFinalMessage(scram.final(data.toString("utf8"))));
                } else if (code === Auth.SASLFinal && scram) {
                  scram.verify(data.toString("utf8"));
                } else {
                  throw new RegateError("UPSTREAM_AUTH_FAILED", `upstream asks for unsupported authentication method ${code}`);
                }
                return;
              }
              case Backend.ParameterStatus: {
                const { name, value } = decodeParameterStatus(f.body);
                params.set(name, value);
                return;
              }
              case Backend.BackendKeyData:
                backendKey = decodeBackendKeyData(f.body);
                return;
              case Backend.NoticeResponse:
              case Backend.NegotiateProtocolVersion:
                return;
              case Backend.ErrorResponse: {
                const e = decodeNotice(f.body);
                const auth = e["C"]?.startsWith("28") ?? false;
                // The server's text names the role, never the password.
                throw new RegateError(auth ? "UPSTREAM_AUTH_FAILED" : "UPSTREAM_UNAVAILABLE", `upstream refused the session: ${e["C"] ?? ""} ${e["M"] ?? ""}`);
              }
              case Backend.ReadyForQuery: {
                socket.removeListener("data", onData);
                socket.removeListener("error", fail);
                socket.removeListener("close", onClose);
                resolve({ socket, params, backendKey, txStatus: readyStatus(f.body), leftover: reader.drain(), secretTexts: scram?.keys() ?? [] });
                return false;
              }
              default:
                throw new RegateError("PROTOCOL_VIOLATION", `unexpected upstream message ${String.fromCharCode(f.type)} during startup`);
            }
          });
        } catch (err) {
          fail(err);
        }
      };
      const onClose = () => fail(new RegateError("UPSTREAM_UNAVAILABLE", "upstream closed the connection during startup"));
      socket.on("data", onData);
      socket.once("error", fail);
      socket.once("close", onClose);
      socket.write(serialize.startup({ user: cfg.user, database: cfg.database, ...startupParams }));
    }),
    "upstream startup",
  );
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1";
}

/** Forwards a cancel with the upstream's real key on a fresh connection. */
const CANCEL_ACK_MS = 2000;

export async function sendCancel(cfg: UpstreamConfig, pid: number, key: Buffer): Promise<void> {
  const socket = await openSocket(cfg);
  const msg = Buffer.alloc(12 + key.length);
  msg.writeInt32BE(msg.length, 0);
  msg.writeInt32BE(80877102, 4);
  msg.writeInt32BE(pid, 8);
  key.copy(msg, 12);
  // The server closes the connection once it has handled the request: only then has the signal been sent.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CANCEL_ACK_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => undefined);
    socket.resume();
    socket.write(msg);
  });
  socket.destroy();
}

/**
 * Ends backend `pid` and waits (up to TERMINATE_WAIT_MS) until it is gone, from a connection of its own as
 * regate's upstream user (a role may end its own backends). A cancel stops only the running statement: the
 * server would go on to run whatever the client had already pipelined behind it.
 */
export async function terminateBackend(cfg: UpstreamConfig, pid: number): Promise<void> {
  const conn = await connectUpstream(cfg, { application_name: "regate-terminate" });
  try {
    const rows = await simpleQuery(conn.socket, `SELECT pg_terminate_backend(${Math.trunc(pid)}, ${TERMINATE_WAIT_MS})`, conn.leftover);
    if (rows[0]?.[0] !== "t") throw new RegateError("UPSTREAM_UNAVAILABLE", `backend ${pid} was not ended`);
  } finally {
    closeUpstream(conn.socket);
  }
}

/** How long pg_terminate_backend waits for the backend to be gone. */
export const TERMINATE_WAIT_MS = 5000;

/** Ends an upstream connection: a Terminate, so the server logs a clean exit, then the socket. */
export function closeUpstream(socket: Socket): void {
  socket.end(serialize.end());
  socket.destroy();
}

