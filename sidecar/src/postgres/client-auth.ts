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
}

/**
 * The agent's side of startup: SSL/GSS negotiation, protocol version, and authentication with the
 * agent's own credential. AuthenticationOk is not sent here: the session sends it once the upstream
 * is ready, so an upstream failure still reaches the agent as a startup error.
 */
export async function acceptClient(socket: Socket, opts: AcceptOptions): Promise<Accepted> {
  let sock = socket;
  let tls = false;
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
        const secure = new TLSSocket(sock, { isServer: true, secureContext: opts.tls });
        await new Promise<void>((resolve, reject) => {
          secure.once("secure", resolve);
          secure.once("error", (cause) => reject(new RegateError("PROTOCOL_VIOLATION", "TLS handshake with the client failed", { cause })));
        });
        sock = secure;
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
