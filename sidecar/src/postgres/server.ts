import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import { readFileSync } from "node:fs";
import { FileSecret, type Config } from "../config/index.js";
import type { Decider, Principal, SessionInput } from "../decision/index.js";
import { isDisconnect, RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { setTcpUserTimeout } from "../tcp-user-timeout.js";
import { CancelRegistry } from "./cancel-registry.js";
import type { Catalog } from "./catalog.js";
import { acceptClient, type AgentAuth } from "./client-auth.js";
import { errorResponse } from "./protocol/index.js";
import { agentLimited, LocalAgentBudgets, type AgentBudgetBook } from "./lifecycle/agent-budget.js";
import { BudgetTracker, type BudgetLimits } from "./lifecycle/budget.js";
import type { SessionHooks } from "./lifecycle/hooks.js";
import { SessionRegistry } from "./lifecycle/registry.js";
import { PgSession } from "./session.js";
import { SilenceWatch } from "./silence-watch.js";
import { sendCancel } from "./upstream.js";
import { secretsKey, UpstreamSecrets, type StoreLogin } from "./upstream-secrets.js";

export interface PostgresServerOptions {
  config: Config["postgres"];
  log: Logger;
  decider: Decider;
  catalog: Catalog;
  agents: AgentAuth;
  maskKey: Buffer | undefined;
  onSessionCount?: (n: number) => void;
  /** Where recording, export and approvals plug in (see lifecycle/hooks.ts). */
  hooks?: SessionHooks;
  /** Shared with operators' tools (admin API); one is made when not given. */
  registry?: SessionRegistry;
  /** Checked once the agent has authenticated (locks): an error refuses the connection with a FATAL. */
  admit?: (principal: Principal) => RegateError | undefined;
  /** Other roles regate logs in as on the upstream's server (approvals and recording stores), read per session: their secrets are withheld too. */
  storeLogins?: () => readonly StoreLogin[];
  /** Workers > 1 (cluster/role.ts): the pids this worker issues name it; a cancel for another worker's pid is forwarded. */
  cancelKeys?: CancelKeys;
  /** Where agent-wide budgets are counted (workers > 1: the cluster primary); this process's when not given. */
  agentBudgets?: AgentBudgetBook;
}

export interface CancelKeys {
  issue(): number;
  isMine(pid: number): boolean;
  /** Hands a CancelRequest to the worker that issued `pid`; that worker checks the key. */
  forward(pid: number, key: Buffer): void;
}

function changedAt(secret: unknown): string | undefined {
  return secret instanceof FileSecret ? (secret.changedAt?.toISOString() ?? "not since start") : undefined;
}

/** Idle time before the first TCP keepalive probe on client sockets. */
const KEEPALIVE_MS = 10_000;
/** Unacknowledged bytes to a client for this long end its connection: the keepalive bound, for a busy socket. */
const USER_TIMEOUT_MS = KEEPALIVE_MS + 10_000;

/** The Postgres listener: accepts agents, runs one PgSession each, routes cancels. */
export class PostgresServer {
  readonly #server: Server;
  readonly registry: SessionRegistry;
  #secrets: UpstreamSecrets;
  readonly #cancels = new CancelRegistry();
  readonly #tls: SecureContext | undefined;
  #draining = false;
  #userTimeoutWarned = false;
  #silence: SilenceWatch | undefined;
  #agentBudgets: AgentBudgetBook | undefined;

  constructor(private readonly opts: PostgresServerOptions) {
    this.registry = opts.registry ?? new SessionRegistry();
    this.#secrets = new UpstreamSecrets(opts.config.upstream.password?.reveal(), opts.config.upstream.user, [], opts.storeLogins?.());
    const tls = opts.config.tls;
    this.#tls = tls ? createSecureContext({ cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) }) : undefined;
    // Keepalive: an agent that vanishes without FIN or RST (a dead node, a pulled cable) is seen within about
    // KEEPALIVE_MS plus ten one-second probes (libuv's), instead of holding its session, and any lock its open
    // transaction took upstream, for ever. Keepalive probes only an idle connection: TCP_USER_TIMEOUT, set on
    // each accepted socket (a listener's options do not reach cluster workers), bounds one with bytes in flight.
    this.#server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS }, (socket) => void this.#accept(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    const limits = this.opts.config.limits;
    if (limits.upstream_silence_ms > 0 && !this.#silence) {
      this.#silence = new SilenceWatch({
        silenceMs: limits.upstream_silence_ms,
        probeTimeoutMs: limits.upstream_probe_timeout_ms,
        upstream: this.opts.config.upstream,
        registry: this.registry,
        log: this.opts.log.child({ component: "upstream-liveness" }),
      });
    }
    const { host, port } = this.opts.config.listen;
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        const addr = this.#server.address();
        resolve({ host, port: typeof addr === "object" && addr ? addr.port : port });
      });
    });
  }

  get sessions(): number {
    return this.registry.size;
  }

  /** A password read from a file follows the file (config/file-secret.ts): withhold the one now in use. */
  #currentSecrets(): UpstreamSecrets {
    const now = this.opts.config.upstream.password?.reveal();
    const stores = this.opts.storeLogins?.() ?? [];
    if (secretsKey(now, stores) !== this.#secrets.key) {
      // The previous password's forms stay withheld too: sessions opened before the rotation may still echo it.
      this.#secrets = new UpstreamSecrets(now, this.opts.config.upstream.user, this.#secrets.carried(), stores);
    }
    return this.#secrets;
  }

  #budget(subject: string): BudgetLimits {
    const { agents, ...defaults } = this.opts.config.budgets;
    return { ...defaults, ...agents[subject] };
  }

  /** The session's budgets; an agent-wide limit shares its counters with the agent's other sessions. */
  #tracker(subject: string): BudgetTracker {
    const limits = this.#budget(subject);
    if (!agentLimited(limits)) return new BudgetTracker(limits);
    this.#agentBudgets ??= this.opts.agentBudgets ?? new LocalAgentBudgets();
    return new BudgetTracker(limits, this.#agentBudgets.open(subject, limits));
  }

  async #accept(socket: Socket): Promise<void> {
    const id = randomUUID();
    const log = this.opts.log.child({ session_id: id, client: `${socket.remoteAddress}:${socket.remotePort}` });
    const unbounded = setTcpUserTimeout(socket, USER_TIMEOUT_MS);
    if (unbounded && !this.#userTimeoutWarned) {
      this.#userTimeoutWarned = true;
      this.opts.log.warn({ reason: unbounded }, "client sockets run without TCP_USER_TIMEOUT: an agent that vanishes with a reply in flight is seen only after the kernel's retransmissions (about 15 minutes)");
    }
    socket.on("error", (err) => (isDisconnect(err) ? log.debug({ err }, "client socket error") : log.warn({ err }, "client socket error")));
    if (this.#draining) {
      socket.end(errorResponse("57P01", "regate is shutting down", { severity: "FATAL" }));
      return;
    }
    let client = socket;
    try {
      const accepted = await acceptClient(socket, {
        tls: this.#tls,
        agents: this.opts.agents,
        maxMessageBytes: this.opts.config.limits.max_message_bytes,
        onSecure: (secure) => (client = secure),
      });
      if (accepted.kind === "cancel") {
        const keys = this.opts.cancelKeys;
        if (keys && !keys.isMine(accepted.pid)) {
          socket.destroy();
          keys.forward(accepted.pid, accepted.key);
          return;
        }
        if (!(await this.cancelLocal(accepted.pid, accepted.key, socket))) log.debug("cancel request with an unknown key dropped");
        return;
      }
      client = accepted.socket;
      const refused = this.opts.admit?.(accepted.principal);
      if (refused) throw refused;
      const startup = accepted.startup;
      if (startup.dropped.length) log.debug({ dropped: startup.dropped }, "startup parameters not passed upstream");
      const budget = this.#tracker(accepted.principal.subject);
      const info: SessionInput = {
        id,
        principal: accepted.principal,
        client: { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
        target: this.opts.config.target,
        started_at: new Date().toISOString(),
        // The name the server is given (startup-params.ts), however the agent spelt it: `options=-c application_name=…`,
        // or a key in another case, set it upstream while the policy's input went without it.
        ...(startup.upstream["application_name"] ? { application_name: startup.upstream["application_name"] } : {}),
      };
      const secrets = this.#currentSecrets();
      const session = new PgSession(
        {
          id,
          log,
          decider: this.opts.decider,
          catalog: this.opts.catalog,
          upstream: this.opts.config.upstream,
          maxMessageBytes: this.opts.config.limits.max_message_bytes,
          maxStatementBytes: this.opts.config.limits.max_statement_bytes,
          maskKey: this.opts.maskKey,
          secrets: secrets.all,
          dataSecrets: secrets.data,
          learnSecrets: (texts) => secrets.learn(texts),
          hooks: this.opts.hooks ?? {},
          budget,
          registerCancel: (pid, key, up) => this.#cancels.register(pid, key, up),
          ...(this.opts.cancelKeys ? { issuePid: () => this.#issuePid() } : {}),
          onClose: () => {
            budget.agent?.release();
            unregister();
            this.opts.onSessionCount?.(this.registry.size);
          },
        },
        { client: accepted.socket, tcp: socket, reader: accepted.reader, backlog: accepted.backlog, session: info, upstreamParams: startup.upstream },
      );
      const unregister = this.registry.add(session);
      this.opts.onSessionCount?.(this.registry.size);
      log.info({ principal: accepted.principal.subject, tls: accepted.tls }, "session started");
      try {
        await session.start({ application_name: `regate:${accepted.principal.subject}`, ...startup.upstream });
      } catch (err) {
        budget.agent?.release();
        unregister();
        this.opts.onSessionCount?.(this.registry.size);
        throw err;
      }
    } catch (err) {
      const e = err instanceof RegateError ? err : new RegateError("INTERNAL", undefined, { cause: err });
      if (isDisconnect(err)) log.debug({ err }, "client left during startup");
      else if (e.code === "UPSTREAM_AUTH_FAILED") {
        // After a rotation this is the one line an operator needs: which secret regate used, and when it last changed.
        const password = this.opts.config.upstream.password;
        log.error({ err: e, code: e.code, upstream_user: this.opts.config.upstream.user, password_source: password ? password.source : "none", password_changed_at: changedAt(password) }, "upstream rejected regate's credentials; if the password was rotated, check that its secret holds the new one");
      } else log.warn({ err: e, code: e.code }, "startup refused");
      // Only regate's own messages reach the agent: never the upstream's or an internal error's text.
      const text =
        e.code === "INTERNAL"
          ? "internal error"
          : e.code === "UPSTREAM_AUTH_FAILED"
            ? `regate: the database refused regate's own credentials (${e.message}); this is not your credential: tell an operator, retrying will not help until they fix it`
            : e.message;
      // A lock's refusal carries what to do next (its detail is built from constants, never from input).
      const hint = e.code === "LOCKED" ? e.detail : undefined;
      if (!client.destroyed) client.end(errorResponse(e.sqlstate, text, { severity: "FATAL", ...(hint ? { hint } : {}) }));
    }
  }

  /** A CancelRequest for a session of this process (received here, or forwarded by another worker); false when the key is unknown. */
  async cancelLocal(pid: number, key: Buffer, socket?: Socket): Promise<boolean> {
    const target = this.#cancels.lookup(pid, key);
    socket?.destroy();
    const forward = target?.onCancel?.() ?? true;
    if (target && forward) await sendCancel(this.opts.config.upstream, target.pid, target.key);
    return target !== undefined;
  }

  /** A pid naming this worker that no live session of it holds. */
  #issuePid(): number {
    for (;;) {
      const pid = this.opts.cancelKeys!.issue();
      if (!this.#cancels.has(pid)) return pid;
    }
  }

  /** Stops accepting; waits for sessions to go idle (or the timeout), then closes them. */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    this.#silence?.stop();
    this.#server.close();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.registry.all().some((s) => !s.idle)) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.registry.all()) if (s instanceof PgSession) s.terminate("SHUTTING_DOWN", undefined, "shutdown");
  }
}
