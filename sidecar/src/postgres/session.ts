import type { Socket } from "node:net";
import type { SessionInput } from "../decision/index.js";
import { ERROR_CODES, isDisconnect, RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { resetConnection } from "../socket-reset.js";
import { endBackend } from "./end-backend.js";
import { onClientFrame } from "./lifecycle/decode.js";
import { cancelArrived } from "./lifecycle/cancel-arrived.js";
import { callHook } from "./lifecycle/decide.js";
import type { EndReason } from "./lifecycle/hooks.js";
import { completeAllAtEnd } from "./lifecycle/observe.js";
import type { LiveSession } from "./lifecycle/registry.js";
import { onServerFrame } from "./lifecycle/replies.js";
import { newSessionState } from "./lifecycle/new-state.js";
import type { SessionContext, SessionState } from "./lifecycle/state.js";
import type { Statement } from "./lifecycle/statement.js";
import { Backend, errorResponse, FrameReader, Frontend, OutBatch, type Frame } from "./protocol/index.js";
import { holdsSecret, starSecrets } from "./secret-data.js";
import { greeting, openUpstream } from "./session-start.js";
import { unsentBytes } from "./unsent.js";
import { closeUpstream, sendCancel, type UpstreamConnection } from "./upstream.js";

export type { SessionContext } from "./lifecycle/state.js";

export interface SessionStart {
  client: Socket;
  /** The TCP socket under `client` when the agent's leg is TLS: a reset (end()) is sent on it. */
  tcp?: Socket;
  reader: FrameReader;
  backlog: Frame[];
  session: SessionInput;
  upstreamParams: Record<string, string>;
}

/** Bytes queued in the kernel for an agent beyond which an operator's end takes it to have stopped reading. */
const STALLED_BYTES = 128 * 1024;

/**
 * One agent connection: the client socket, the upstream socket, and the connection state that keeps
 * them in step. What happens to each statement is in lifecycle/ (decode, analyse, decide, enforce,
 * replies, observe, mask); docs/postgres.md walks through it.
 */
export class PgSession implements LiveSession {
  readonly #ctx: SessionContext;
  readonly #client: Socket;
  readonly #tcp: Socket;
  readonly #clientReader: FrameReader;
  #upstream!: UpstreamConnection;
  readonly #upReader = new FrameReader(1 << 30);
  readonly #log: Logger;
  readonly #state: SessionState;
  #inbox: Frame[];
  #parked = false;
  #closed = false;
  #ending = false;
  /** end() reset the agent's connection; the session still ends as the operator's end, not the agent's hang-up. */
  #clientReset = false;
  /** Budget cuts and agent leases the server's replies wait for (pauseUpstream); drain does not resume them. */
  #upstreamHolds = 0;
  /** When bytes last went to or came from the upstream (the silence watch measures from it). */
  #upstreamActiveAt = Date.now();
  /** Replies collected while one upstream chunk is handled; written together at its end. */
  readonly #toClient = new OutBatch();
  #collectingToClient = false;
  /** Messages for the server collected while the client's messages are handled; written together at the end. */
  readonly #toServer = new OutBatch();
  #collectingToServer = false;
  #unregisterCancel: (() => void) | undefined;
  /** The readers' frame callbacks, made once rather than per chunk read. */
  readonly #toInbox = (f: Frame): void => {
    this.#inbox.push(f);
  };
  /** A form of regate's password is in the upstream chunk being read (secret-data.ts). */
  #secretInChunk = false;
  /**
   * workers > 1: a reply the agent's leases do not cover, copied, and what the server sent after it: handled once
   * the primary has answered (AgentBudget.hold), so no reply reaches the agent ahead of what it was granted.
   */
  #held: Buffer[] | undefined;
  readonly #fromServer = (f: Frame): boolean => {
    const hold = COUNTED.has(f.type) ? this.#state.ctx.budget.agent?.hold?.(f.raw.length, Date.now()) : undefined;
    if (hold) {
      this.#holdReplies(f, hold);
      return false;
    }
    const forms = this.#ctx.dataSecrets;
    // A message completed from several chunks was not searched whole: it is searched on its own.
    if (forms.length > 0 && (this.#secretInChunk || f.joined)) starSecrets(f, forms);
    const outcome = onServerFrame(this.#state, f);
    if (outcome) this.terminate(outcome.terminate, outcome.message);
    return true;
  };

  #holdReplies(f: Frame, until: Promise<void>): void {
    this.#held = [Buffer.from(f.raw)];
    // Registered before pauseUpstream's own: the held replies are handled before the socket reads again.
    const resume = (): void => {
      const held = this.#held;
      this.#held = undefined;
      if (!held || this.#closed) return;
      held.splice(1, 0, this.#upReader.takeBuffered());
      this.#onUpstreamData(Buffer.concat(held));
    };
    until.then(resume, resume);
    this.#state.pauseUpstream(until);
  }

  constructor(ctx: SessionContext, start: SessionStart) {
    this.#ctx = ctx;
    this.#client = start.client;
    this.#tcp = start.tcp ?? start.client;
    this.#clientReader = start.reader;
    this.#inbox = start.backlog;
    this.#log = ctx.log;
    this.#state = newSessionState(ctx, start.session, {
      toServer: (buf) => {
        // An operator is ending the session: nothing more of it may reach the server (a statement released
        // by a reviewer's approve that crossed the kill or lock, a message pipelined behind it).
        if (this.#ending) return;
        if (this.#collectingToServer) return this.#toServer.push(buf);
        this.#upstreamActiveAt = Date.now();
        if (!this.#upstream.socket.write(buf)) this.#client.pause();
      },
      toClient: (buf) => {
        if (this.#collectingToClient) this.#toClient.push(buf);
        else if (!this.#client.write(buf)) this.#upstream.socket.pause();
      },
      watchClient: () => {
        if (this.#parked && !this.#closed) this.#client.resume();
      },
      cancelUpstream: () => {
        const key = this.#upstream?.backendKey;
        return key ? sendCancel(this.#ctx.upstream, key.pid, key.key) : Promise.resolve();
      },
      pauseUpstream: (until) => {
        const up = this.#upstream.socket;
        up.pause();
        this.#upstreamHolds++;
        // Released however `until` settles: `finally` would re-raise a rejection as an unhandled one, which ends the process.
        const release = (): void => {
          // The client's own back-pressure may still want the server read paused.
          if (--this.#upstreamHolds === 0 && !this.#closed && !this.#client.writableNeedDrain) up.resume();
        };
        until.then(release, release);
      },
    });
  }

  get info(): SessionInput {
    return this.#state.info;
  }

  get current(): Statement | undefined {
    return this.#state.current;
  }

  get transactionStatus(): LiveSession["transactionStatus"] {
    const t = this.#state.txStatus;
    return t === 0x49 ? "idle" : t === 0x54 ? "in_transaction" : "failed";
  }

  /** For the silence watch: how long the upstream has said nothing while a reply is awaited. */
  silentForMs(now: number): number | undefined {
    return this.#state.pending.length === 0 || this.#closed ? undefined : now - this.#upstreamActiveAt;
  }

  get backendPid(): number | undefined {
    return this.#upstream?.backendKey?.pid;
  }

  upstreamGone(message: string): void {
    this.terminate("UPSTREAM_UNAVAILABLE", `regate: ${message}`, "upstream", "reconnect later; what was in flight may or may not have run, so check before redoing a write");
  }

  get idle(): boolean {
    return this.#state.pending.length === 0 && this.#inbox.length === 0;
  }

  /** Connects upstream, finishes the agent's startup, then relays until either side closes. */
  async start(upstreamParams: Record<string, string>): Promise<void> {
    const opened = await openUpstream(this.#ctx, upstreamParams);
    if (this.#closed || this.#ending) {
      // A lock or a kill ended the session while its upstream was being opened (the agent already has its
      // FATAL): the backend opened for it goes too, instead of living on with nobody to end it.
      closeUpstream(opened.upstream.socket);
      return;
    }
    this.#upstream = opened.upstream;
    this.#state.user = opened.user;
    this.#state.searchPath = opened.searchPath;
    this.#state.reading = opened.reading;
    // Known before the first decision, whose input serialises the session once (input-json.ts).
    this.#state.info.started_as_login_role = opened.startedAsLoginRole;
    const hello = greeting(this.#ctx, this.#upstream, () => cancelArrived(this.#state, this.#log));
    this.#unregisterCancel = hello.unregister;
    this.#client.write(hello.bytes);

    const up = this.#upstream.socket;
    up.on("data", (chunk: Buffer) => this.#onUpstreamData(chunk));
    // While an operator ends the session, the backend going away is expected: end() tells the client why.
    up.on("error", (err) => !this.#ending && this.#close(err, "upstream"));
    up.on("close", () => !this.#ending && this.#close(undefined, "upstream"));
    up.on("drain", () => this.#client.resume());
    this.#client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    this.#client.on("error", (err) => !this.#clientReset && this.#close(err, "client"));
    this.#client.on("close", () => !this.#clientReset && this.#close(undefined, "client"));
    // Not while a budget cut or an agent lease holds the server's replies (pauseUpstream).
    this.#client.on("drain", () => this.#upstreamHolds === 0 && up.resume());
    this.#drainInbox();
  }

  /** Ends the session: the agent gets `FATAL` with the reason when one is given. */
  terminate(code: keyof typeof ERROR_CODES, message?: string, reason: EndReason = "terminated", hint?: string): void {
    if (this.#closed) return;
    const e = new RegateError(code, message);
    this.#flushOut();
    this.#client.end(errorResponse(e.sqlstate, e.message, { severity: "FATAL", ...(hint ? { hint } : {}) }));
    this.#close(undefined, reason);
  }

  /**
   * For operators (the registry): end the upstream backend first, so nothing runs after we leave. A cancel
   * would stop only the running statement, and the server would go on to run what the agent had already
   * pipelined behind it; where ending the backend fails, the cancel is the fallback.
   */
  async end(reason: string): Promise<void> {
    if (this.#closed) return;
    // From here the client hears only the FATAL that says why, not the backend's own error.
    this.#ending = true;
    this.#client.pause();
    const idle = this.idle;
    // An agent that is not reading (a result it let pile up, a COPY TO it stalls) has replies queued in regate
    // and in the kernel's send buffer: it would go on reading them, megabytes of rows, while the backend is
    // ended and after, and the FATAL queued behind them would never reach it. Reset now: none of them leaves.
    // The kernel's count includes what the agent received but has not acknowledged yet (a delayed ACK of the
    // last notice): below STALLED_BYTES the agent is taken to be reading, and gets the FATAL that says why.
    if (this.#client.writableLength > 0 || (unsentBytes(this.#tcp) ?? 0) > STALLED_BYTES) this.#resetClient();
    // A statement held for approval is withdrawn now, before anything is awaited: a reviewer's approve
    // arriving while the backend is being ended must not release it.
    this.#state.held?.abort(`operator: ${reason}`);
    if (!idle) {
      const key = this.#upstream?.backendKey;
      const ended = key ? await endBackend(this.#ctx, key.pid, this.#log) : false;
      if (!ended) {
        this.#log.warn("the upstream backend could not be ended; its running statement is cancelled instead");
        await this.#state.cancelUpstream().catch((err: unknown) => this.#log.warn({ err }, "cancel before ending the session failed"));
      }
    }
    this.#log.warn({ reason }, "session ended by an operator");
    // What the agent should do next: an operator stopped it on purpose, so reconnecting to redo the work is wrong.
    this.terminate("SESSION_ENDED", `regate: session ended by an operator: ${reason}`, "terminated", "stop and report to your operator; do not reconnect to redo this work until they say so");
  }

  /** Drops the agent's connection with a TCP reset: nothing queued for it leaves regate (end()). */
  #resetClient(): void {
    this.#log.warn("agent had replies queued that it had not read: its connection is reset so that none reaches it");
    // end() goes on to end the backend and closes the session itself, as ended by the operator.
    this.#clientReset = true;
    if (!resetConnection(this.#tcp)) this.#log.debug("connection reset not possible; destroyed instead");
    this.#client.destroy();
  }

  #close(err: unknown, side: EndReason | "regate"): void {
    if (this.#closed) return;
    this.#closed = true;
    if (err && !isDisconnect(err)) this.#log.warn({ err, side }, "session ended by error");
    else this.#log.debug({ side }, "session closed");
    this.#unregisterCancel?.();
    this.#state.held?.abort();
    this.#client.destroy();
    // What was decided and forwarded before the end still goes, ahead of the Terminate, as one corked write would.
    this.#flushToServer();
    if (this.#upstream) closeUpstream(this.#upstream.socket);
    const s = this.#state;
    const reason: EndReason = side === "regate" ? "error" : err && !isDisconnect(err) ? "error" : side;
    completeAllAtEnd(s, reason);
    callHook(s, "ended", () => this.#ctx.hooks.ended?.(s.info, reason));
    this.#ctx.onClose();
  }

  // ---- client -> server ----------------------------------------------------------------------

  #onClientData(chunk: Buffer): void {
    try {
      this.#clientReader.push(chunk, this.#toInbox);
      // Held for approval: the client is still read so that a hang-up withdraws the request.
      if (this.#parked && this.#state.held) {
        if (this.#inbox.some((f) => f.type === Frontend.Terminate)) return this.#close(undefined, "client");
        if (this.#inbox.length > 64) this.#client.pause();
      }
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    this.#drainInbox();
  }

  #drainInbox(): void {
    // What these messages send upstream leaves in one write at the end: usually one slice of what was read.
    this.#collectingToServer = true;
    try {
      while (!this.#parked && !this.#closed && !this.#ending && this.#inbox.length > 0) {
        const barrier = this.#state.barrier;
        if (barrier) {
          this.#state.barrier = undefined;
          this.#park(barrier);
          break;
        }
        const f = this.#inbox.shift()!;
        if (f.type === Frontend.Terminate) {
          this.#close(undefined, "client");
          return;
        }
        const wait = onClientFrame(this.#state, f);
        if (wait) {
          // Parked (catalog lookup, a held approval): later messages wait their turn, in order.
          this.#park(wait);
          break;
        }
      }
    } catch (err) {
      this.#protocolError(err);
    } finally {
      this.#flushToServer();
    }
  }

  #flushToServer(): void {
    this.#collectingToServer = false;
    const up = this.#upstream?.socket;
    if (this.#toServer.bytes === 0 || !up || up.destroyed || this.#ending) return void this.#toServer.take();
    this.#upstreamActiveAt = Date.now();
    if (!this.#toServer.writeTo(up, false)) this.#client.pause();
  }

  #park(wait: Promise<void>): void {
    this.#parked = true;
    // A held approval keeps reading the client (bounded above) to see it hang up.
    if (!this.#state.held) this.#client.pause();
    wait.then(
      () => {
        this.#parked = false;
        if (this.#closed || this.#ending) return;
        this.#client.resume();
        this.#drainInbox();
      },
      (err: unknown) => this.#protocolError(err),
    );
  }

  #protocolError(err: unknown): void {
    if (this.#closed) return;
    const e = err instanceof RegateError ? err : new RegateError("INTERNAL", undefined, { cause: err });
    this.#log.warn({ err: e, code: e.code }, "closing session");
    this.#flushOut();
    if (!this.#client.destroyed) this.#client.end(errorResponse(e.sqlstate, e.code === "INTERNAL" ? "internal error" : e.message, { severity: "FATAL" }));
    this.#close(undefined, "regate");
  }

  // ---- server -> client ----------------------------------------------------------------------

  #onUpstreamData(chunk: Buffer): void {
    this.#upstreamActiveAt = Date.now();
    if (this.#ending) return;
    // Behind replies that wait for the agent's lease (#holdReplies): in order, after them.
    if (this.#held) return void this.#held.push(chunk);
    // What one chunk from the server turns into leaves in one write: unchanged messages as the slice of
    // the chunk they came in, a result with rewritten DataRows as one copy instead of a socket write each.
    this.#collectingToClient = true;
    const forms = this.#ctx.dataSecrets;
    this.#secretInChunk = forms.length > 0 && holdsSecret(chunk, forms);
    try {
      this.#upReader.push(chunk, this.#fromServer);
    } catch (err) {
      this.#protocolError(err);
    } finally {
      this.#flushOut();
    }
  }

  #flushOut(): void {
    if (!this.#collectingToClient) return;
    this.#collectingToClient = false;
    if (this.#client.destroyed) return void this.#toClient.take();
    if (!this.#toClient.writeTo(this.#client, true)) this.#upstream.socket.pause();
  }
}

/** Replies counted against an agent's rows and bytes (lifecycle/observe.ts): those that may wait for its lease. */
const COUNTED: ReadonlySet<number> = new Set([Backend.DataRow, Backend.CopyData, Backend.NotificationResponse, Backend.ErrorResponse, Backend.NoticeResponse, Backend.FunctionCallResponse]);
