import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import type { Principal } from "../decision/index.js";
import { RegateError } from "../errors.js";
import type { AgentDirectory } from "../identity/index.js";
import { ScramServer, type ScramVerifier } from "./auth/scram.js";
import { MessageQueue } from "./message-queue.js";
import { Auth, authentication, authenticationSasl, decodePassword, decodeSaslInitial, decodeStartup, Frontend, FrameReader, negotiateProtocolVersion, type Frame } from "./protocol/index.js";
import { screenStartupParams, type StartupSettings } from "./startup-params.js";
import { isLoopback } from "./upstream.js";

export interface AgentAuth {
  directory: AgentDirectory;
  /** Static-token agents by subject: they log in with SCRAM-SHA-256, user name = subject, password = token. */
  scram: ReadonlyMap<string, { verifier: ScramVerifier; principal: Principal }>;
}

export type Accepted =
  | { kind: "session"; socket: Socket; tls: boolean; params: Map<string, string>; startup: StartupSettings; principal: Principal; reader: FrameReader; backlog: Frame[] }
  | { kind: "cancel"; pid: number; key: Buffer };

export interface AcceptOptions {
  tls: SecureContext | undefined;
  agents: AgentAuth;
  maxMessageBytes: number;
  /** The whole startup (TLS handshake included) must end within this; default STARTUP_TIMEOUT_MS. */
  startupTimeoutMs?: number;
  /**
   * Told the TLS socket once the agent's leg is encrypted: a startup refusal (bad credential, refused option)
   * must be written through it; written to the plain socket beneath, it reached the client as bytes inside
   * its TLS stream, which libpq reports as "SSL error: wrong version number" instead of the SQLSTATE.
   */
  onSecure?: (socket: TLSSocket) => void;
}

/**
 * PostgreSQL's authentication_timeout is 60 s. The per-message wait (message-queue.ts) does not cover a TLS
 * handshake, and a client that took an 'S' and then sent nothing held its socket for ever.
 */
const STARTUP_TIMEOUT_MS = 60_000;

/** The first byte of a TLS record carrying a handshake: a ClientHello sent without SSLRequest (libpq 17's sslnegotiation=direct). */
const TLS_HANDSHAKE = 0x16;
/**
 * The ALPN name PostgreSQL requires on a direct TLS connection: a TLS client of another protocol (an HTTPS client
 * sent here by a cross-protocol attack, ALPACA) has its connection refused instead of its bytes read as a startup.
 */
const ALPN = "postgresql";

/**
 * The agent's side of startup: SSL/GSS negotiation, protocol version, and authentication with the
 * agent's own credential. AuthenticationOk is not sent here: the session sends it once the upstream
 * is ready, so an upstream failure still reaches the agent as a startup error.
 */
export async function acceptClient(socket: Socket, opts: AcceptOptions): Promise<Accepted> {
  const current = { sock: socket };
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new RegateError("PROTOCOL_VIOLATION", "startup did not complete in time"));
      current.sock.destroy();
      socket.destroy();
    }, opts.startupTimeoutMs ?? STARTUP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([negotiate(current, opts), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function negotiate(current: { sock: Socket }, opts: AcceptOptions): Promise<Accepted> {
  let sock = current.sock;
  let tls = false;
  if ((await firstByte(sock)) === TLS_HANDSHAKE) {
    // PostgreSQL 17 answers a direct ClientHello; without TLS configured there is nobody to answer it (as PostgreSQL: closed).
    if (!opts.tls) throw new RegateError("PROTOCOL_VIOLATION", "direct TLS connection but regate has no TLS configured");
    const secure = await startTls(sock, opts.tls, true);
    sock = current.sock = secure;
    opts.onSecure?.(secure);
    tls = true;
  }
  let reader = new FrameReader(opts.maxMessageBytes, true);
  let queue = new MessageQueue(reader);
  queue.attach(sock);
  for (let attempts = 0; attempts < 4; attempts++) {
    const frame = await queue.next();
    const pkt = decodeStartup(frame.body);
    if (pkt.kind === "ssl" || pkt.kind === "gssenc") {
      // Bytes after an SSLRequest were sent before encryption: never act on them (CVE-2021-23214 class).
      if (queue.backlog > 0) throw new RegateError("PROTOCOL_VIOLATION", "received unencrypted data after SSL request");
      if (pkt.kind === "ssl" && opts.tls && !tls) {
        queue.detach();
        sock.write("S");
        const secure = await startTls(sock, opts.tls, false);
        sock = current.sock = secure;
        opts.onSecure?.(secure);
        tls = true;
        reader = new FrameReader(opts.maxMessageBytes, true);
        queue = new MessageQueue(reader);
        queue.attach(sock);
      } else {
        sock.write("N");
      }
      continue;
    }
    if (pkt.kind === "cancel") {
      queue.detach();
      return pkt;
    }
    reader.endStartupPhase();
    const unsupported = [...pkt.params.keys()].filter((k) => k.startsWith("_pq_."));
    if (pkt.minor > 0 || unsupported.length) sock.write(negotiateProtocolVersion(0, unsupported));
    // Refused parameters (replication, other encodings) end the session before any authentication.
    const startup = screenStartupParams(pkt.params);
    const user = pkt.params.get("user");
    if (!user) throw new RegateError("AUTH_FAILED", "no user name given");
    const principal = await authenticate(sock, queue, user, tls, opts.agents);
    return { kind: "session", socket: sock, tls, params: pkt.params, startup, principal, reader, backlog: queue.detach() };
  }
  throw new RegateError("PROTOCOL_VIOLATION", "too many startup negotiation attempts");
}

/** Waits for the client's first byte and leaves it unread: a startup packet's length, or a TLS record. */
function firstByte(sock: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new RegateError("PROTOCOL_VIOLATION", "client closed the connection during startup"));
    sock.once("close", onClose);
    sock.once("readable", () => {
      sock.removeListener("close", onClose);
      const chunk = sock.read() as Buffer | null;
      if (!chunk) return reject(new RegateError("PROTOCOL_VIOLATION", "client closed the connection during startup"));
      sock.unshift(chunk);
      resolve(chunk[0]!);
    });
  });
}

async function startTls(sock: Socket, context: SecureContext, direct: boolean): Promise<TLSSocket> {
  const secure = new TLSSocket(sock, { isServer: true, secureContext: context, ...(direct ? { ALPNProtocols: [ALPN] } : {}) });
  await new Promise<void>((resolve, reject) => {
    secure.once("secure", resolve);
    secure.once("error", (cause) => reject(new RegateError("PROTOCOL_VIOLATION", "TLS handshake with the client failed", { cause })));
    secure.once("close", () => reject(new RegateError("PROTOCOL_VIOLATION", "client closed the connection during the TLS handshake")));
  });
  if (direct && secure.alpnProtocol !== ALPN) {
    secure.destroy();
    throw new RegateError("PROTOCOL_VIOLATION", `direct TLS connection without ALPN protocol "${ALPN}"`);
  }
  return secure;
}

/** The agent's credential checked, with its failures counted (identity/login-throttle.ts): refused before any check while throttled. */
async function authenticate(sock: Socket, queue: MessageQueue, user: string, tls: boolean, agents: AgentAuth): Promise<Principal> {
  const throttle = agents.directory.throttle;
  if (!throttle) return check(sock, queue, user, tls, agents);
  const kind = agents.scram.get(user) ? "agent" : "user";
  const gate = (): void => {
    const refused = throttle.refused(kind, user);
    if (refused) throw new RegateError("AUTH_THROTTLED", refused.reason);
  };
  gate();
  try {
    return await check(sock, queue, user, tls, agents, gate);
  } catch (err) {
    // An unreachable JWKS is not a guess: it must not lock agents out.
    // Answered once counted: with workers, the next attempt meets the count on whichever worker it lands.
    if (err instanceof RegateError && err.code === "AUTH_FAILED" && err.detail !== "jwks_unavailable") await throttle.failed(kind, user);
    throw err;
  }
}

/**
 * `gate` is asked again once the credential has arrived, right before it is checked: connections opened
 * together all pass the first ask at their startup packet, before any of them has failed, and would
 * otherwise each have a guess checked (40 at once got 27 SCRAM proofs checked against a limit of 3, and
 * kept the agent out for 25 s). Checked and counted with no wait in between, each guess meets the count
 * of those before it.
 */
async function check(sock: Socket, queue: MessageQueue, user: string, tls: boolean, agents: AgentAuth, gate: () => void = () => {}): Promise<Principal> {
  const scram = agents.scram.get(user);
  if (scram) {
    sock.write(authenticationSasl(["SCRAM-SHA-256"]));
    const initial = decodeSaslInitial(expectPassword(await queue.next()));
    if (initial.mechanism !== "SCRAM-SHA-256") throw new RegateError("AUTH_FAILED", `unsupported SASL mechanism ${initial.mechanism}`);
    const server = new ScramServer(scram.verifier);
    sock.write(authentication(Auth.SASLContinue, Buffer.from(server.first(initial.data.toString("utf8")))));
    const proof = expectPassword(await queue.next()).toString("utf8");
    gate();
    const final = server.final(proof);
    sock.write(authentication(Auth.SASLFinal, Buffer.from(final)));
    return scram.principal;
  }
  // A token or JWT as the password: only where nobody can read it on the way.
  if (!tls && !isLoopback(sock.remoteAddress ?? "")) throw new RegateError("AUTH_REQUIRED_TLS");
  sock.write(authentication(Auth.CleartextPassword));
  const password = decodePassword(expectPassword(await queue.next()));
  gate();
  const result = await agents.directory.authenticate(password);
  if (!result.principal) throw new RegateError("AUTH_FAILED", `password authentication failed for user "${user}"`, { detail: result.failure });
  return result.principal;
}

function expectPassword(f: Frame): Buffer {
  if (f.type !== Frontend.Password) throw new RegateError("PROTOCOL_VIOLATION", "expected a password message");
  return f.body;
}
