import { randomBytes, randomInt } from "node:crypto";
import type { Socket } from "node:net";
import { serialize } from "pg-protocol";
import type { UpstreamConfig } from "../config/index.js";
import type { Decider, Decision, SessionInput } from "../decision/index.js";
import { ERROR_CODES, isDisconnect, RegateError } from "../errors.js";
import type { Logger } from "../log.js";
import { maskText } from "../mask/index.js";
import type { Catalog } from "./catalog.js";
import { buildMaskPlan, maskValue, rewriteFields, type MaskPlan } from "./mask-plan.js";
import { parameterInputs } from "./parameters.js";
import { EXTENDED, type Pending, type Portal, type PreparedStatement } from "./pending.js";
import {
  Auth,
  authentication,
  Backend,
  backendKeyData,
  decodeBind,
  decodeExecute,
  decodeFunctionCall,
  decodeNotice,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeRowDescription,
  decodeTarget,
  encodeNotice,
  encodeRowDescription,
  errorResponse,
  FrameReader,
  Frontend,
  parameterStatus,
  readyForQuery,
  readyStatus,
  rewriteDataRow,
  type Frame,
  type FieldDescription,
} from "./protocol/index.js";
import { isDiscardAll, SearchPathTracker } from "./search-path.js";
import { simpleQuery } from "./simple-query.js";
import { analyze, parseSearchPath } from "./sql/index.js";
import type { AnalysisResult, StatementFacts } from "./sql/types.js";
import { resolveAnalysis } from "./resolve.js";
import { postgresInput, type PostgresInputParts } from "./to-input.js";
import { connectUpstream, type UpstreamConnection } from "./upstream.js";

export interface SessionContext {
  id: string;
  log: Logger;
  decider: Decider;
  catalog: Catalog;
  upstream: UpstreamConfig;
  maxMessageBytes: number;
  maxStatementBytes: number;
  maskKey: Buffer | undefined;
  /** Registers the session's cancel key; returns the unregister function. */
  registerCancel(pid: number, key: Buffer, upstream: { pid: number; key: Buffer }): () => void;
  onClose(): void;
}

export interface SessionStart {
  client: Socket;
  reader: FrameReader;
  backlog: Frame[];
  session: SessionInput;
  upstreamParams: Record<string, string>;
}

/** A syntax error the server is sure to raise: forwarded in place of a denied message (see docs/postgres.md). */
const POISON_SQL = "REGATE_POLICY_DENIED";
const POISON_QUERY = serialize.query(POISON_SQL);
const POISON_PARSE = serialize.parse({ name: "regate_policy_denied", text: POISON_SQL, types: [] });
const DESCRIBE_PORTAL = (name: string) => serialize.describe({ type: "P", name });

const ANALYSIS_CACHE = 512;
const DEFAULT_SEARCH_PATH = ["$user", "public"];

/**
 * One agent connection: the client socket, the upstream socket, and the state that keeps them in
 * step. Client messages are decided before they are forwarded; server replies are matched to them
 * through the pending queue, rewritten where a mask or a denial applies, and streamed back.
 */
export class PgSession {
  readonly #ctx: SessionContext;
  readonly #client: Socket;
  readonly #clientReader: FrameReader;
  #upstream!: UpstreamConnection;
  readonly #upReader: FrameReader;
  readonly #info: SessionInput;
  readonly #log: Logger;

  readonly #pending: Pending[] = [];
  readonly #statements = new Map<string, PreparedStatement>();
  readonly #portals = new Map<string, Portal>();
  readonly #prepared = new Map<string, StatementFacts>();
  readonly #cursors = new Map<string, StatementFacts>();
  readonly #analysisCache = new Map<string, AnalysisResult>();
  #searchPath!: SearchPathTracker;
  #user = "";
  #txStatus = 0x49;
  /** We forwarded a poison message: drop client messages up to Sync, as the server will. */
  #skipUntilSync = false;
  /** The server raised an error before our pending list reached a Sync: it ignores what follows until Sync. */
  #serverSkipping = false;
  #inbox: Frame[] = [];
  #parked = false;
  #closed = false;
  #unregisterCancel: (() => void) | undefined;

  constructor(ctx: SessionContext, start: SessionStart) {
    this.#ctx = ctx;
    this.#client = start.client;
    this.#clientReader = start.reader;
    this.#inbox = start.backlog;
    this.#info = start.session;
    this.#log = ctx.log;
    this.#upReader = new FrameReader(1 << 30);
  }

  get idle(): boolean {
    return this.#pending.length === 0 && this.#inbox.length === 0;
  }

  /** Connects upstream, finishes the agent's startup, then relays until either side closes. */
  async start(upstreamParams: Record<string, string>): Promise<void> {
    this.#upstream = await connectUpstream(this.#ctx.upstream, upstreamParams);
    const params = this.#upstream.params;
    // The parser reads SQL as UTF-8 with standard_conforming_strings on; a server that disagrees would run other SQL than regate decided on.
    if ((params.get("client_encoding") ?? "").toUpperCase() !== "UTF8" || params.get("standard_conforming_strings") !== "on") {
      this.#upstream.socket.destroy();
      throw new RegateError("UPSTREAM_SETTING_REFUSED", "upstream session must run with client_encoding UTF8 and standard_conforming_strings on");
    }
    const [row] = await simpleQuery(this.#upstream.socket, "SELECT current_setting('search_path'), current_user", this.#upstream.leftover);
    this.#user = row?.[1] ?? this.#ctx.upstream.user;
    this.#searchPath = new SearchPathTracker(row?.[0] != null ? parseSearchPath(row[0]) : null, DEFAULT_SEARCH_PATH);

    const out: Buffer[] = [authentication(Auth.Ok)];
    for (const [name, value] of params) out.push(parameterStatus(name, value));
    if (this.#upstream.backendKey) {
      const pid = randomInt(1, 2 ** 31 - 1);
      const key = randomBytes(4);
      this.#unregisterCancel = this.#ctx.registerCancel(pid, key, this.#upstream.backendKey);
      out.push(backendKeyData(pid, key));
    }
    out.push(readyForQuery(this.#upstream.txStatus));
    this.#client.write(Buffer.concat(out));

    const up = this.#upstream.socket;
    up.on("data", (chunk: Buffer) => this.#onUpstreamData(chunk));
    up.on("error", (err) => this.#close(err, "upstream"));
    up.on("close", () => this.#close(undefined, "upstream"));
    up.on("drain", () => this.#client.resume());
    this.#client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    this.#client.on("error", (err) => this.#close(err, "client"));
    this.#client.on("close", () => this.#close(undefined, "client"));
    this.#client.on("drain", () => up.resume());
    this.#drainInbox();
  }

  /** Ends the session: the agent gets `FATAL` with the reason when one is given. */
  terminate(code: keyof typeof ERROR_CODES, message?: string): void {
    if (this.#closed) return;
    const e = new RegateError(code, message);
    this.#client.end(errorResponse(e.sqlstate, e.message, { severity: "FATAL" }));
    this.#close(undefined, "regate");
  }

  #close(err: unknown, side: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (err && !isDisconnect(err)) this.#log.warn({ err, side }, "session ended by error");
    else this.#log.debug({ side }, "session closed");
    this.#unregisterCancel?.();
    this.#client.destroy();
    this.#upstream?.socket.end(serialize.end());
    this.#upstream?.socket.destroy();
    this.#ctx.onClose();
  }

  // ---- client -> server ----------------------------------------------------------------------

  #onClientData(chunk: Buffer): void {
    try {
      this.#clientReader.push(chunk, (f) => {
        this.#inbox.push(f);
      });
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    this.#drainInbox();
  }

  #drainInbox(): void {
    const up = this.#upstream.socket;
    up.cork();
    try {
      while (!this.#parked && !this.#closed && this.#inbox.length > 0) {
        const f = this.#inbox.shift()!;
        const wait = this.#onClientFrame(f);
        if (wait) {
          // Parked (catalog lookup, and later human approval): later messages wait their turn, in order.
          this.#parked = true;
          this.#client.pause();
          wait.then(
            () => {
              this.#parked = false;
              this.#client.resume();
              this.#drainInbox();
            },
            (err: unknown) => this.#close(err, "regate"),
          );
          break;
        }
      }
    } catch (err) {
      this.#protocolError(err);
    } finally {
      up.uncork();
    }
  }

  #protocolError(err: unknown): void {
    const e = err instanceof RegateError ? err : new RegateError("INTERNAL", undefined, { cause: err });
    this.#log.warn({ err: e, code: e.code }, "closing session");
    if (!this.#client.destroyed) this.#client.end(errorResponse(e.sqlstate, e.message, { severity: "FATAL" }));
    this.#close(undefined, "regate");
  }

  #toServer(buf: Buffer): void {
    if (!this.#upstream.socket.write(buf)) this.#client.pause();
  }

  /** Returns a promise when the frame must wait for something asynchronous before it can be decided. */
  #onClientFrame(f: Frame): Promise<void> | void {
    const skipping = this.#skipUntilSync || this.#serverSkipping;
    switch (f.type) {
      case Frontend.Query:
        if (skipping) return;
        return this.#withAnalysis(decodeQuery(f.body), (a) => this.#query(f, a));
      case Frontend.Parse: {
        if (skipping) return;
        const msg = decodeParse(f.body);
        return this.#withAnalysis(msg.sql, (a) => this.#parse(f, msg.name, msg.sql, msg.paramTypes, a));
      }
      case Frontend.Bind:
        if (skipping) return;
        return this.#bind(f);
      case Frontend.Describe: {
        if (skipping) return;
        const t = decodeTarget(f.body);
        if (t.kind === "S") {
          const statement = this.#statements.get(t.name);
          // Drivers build their row decoders from this reply: it must already show masked columns as text,
          // even for a statement whose authorizing decision waits for its Bind values.
          if (statement && !statement.decision && !statement.shape) statement.shape = this.#decide("parse", {}, statement.analysis);
          this.#pending.push({ kind: "describe", target: "S", statement });
        }
        else this.#pending.push({ kind: "describe", target: "P", portal: this.#portals.get(t.name) });
        return this.#toServer(f.raw);
      }
      case Frontend.Execute: {
        if (skipping) return;
        this.#pending.push({ kind: "execute", portal: this.#portals.get(decodeExecute(f.body).portal) });
        return this.#toServer(f.raw);
      }
      case Frontend.Close: {
        if (skipping) return;
        const t = decodeTarget(f.body);
        if (t.kind === "S") this.#statements.delete(t.name);
        else this.#portals.delete(t.name);
        this.#pending.push({ kind: "close" });
        return this.#toServer(f.raw);
      }
      case Frontend.Sync:
        this.#skipUntilSync = false;
        this.#serverSkipping = false;
        this.#pending.push({ kind: "sync" });
        return this.#toServer(f.raw);
      case Frontend.Flush:
      case Frontend.CopyData:
      case Frontend.CopyDone:
      case Frontend.CopyFail:
        // Copy messages belong to a COPY the policy already allowed; outside COPY the server ignores them.
        return this.#toServer(f.raw);
      case Frontend.FunctionCall: {
        if (skipping) return;
        const decision = this.#decide("function_call", { function_oid: decodeFunctionCall(f.body).oid });
        if (decision.outcome === "allow") {
          this.#pending.push({ kind: "function_call" });
          return this.#toServer(f.raw);
        }
        this.#pending.push({ kind: "function_call", denial: decision });
        return this.#toServer(POISON_QUERY);
      }
      case Frontend.Terminate:
        this.#close(undefined, "client");
        return;
      default:
        throw new RegateError("PROTOCOL_VIOLATION", `unexpected message type ${String.fromCharCode(f.type)}`);
    }
  }

  /** Parses (cached), resolves names and views through the catalog (async on a miss), then continues. */
  #withAnalysis(sql: string, next: (a: AnalysisResult) => void): Promise<void> | void {
    if (Buffer.byteLength(sql) > this.#ctx.maxStatementBytes) {
      return next({ statements: [], fingerprint: "", parse_error: `statement is longer than ${this.#ctx.maxStatementBytes} bytes` });
    }
    const cached = this.#analysisCache.get(sql);
    if (cached) return next(cached);
    let resolved: AnalysisResult | Promise<AnalysisResult>;
    try {
      resolved = resolveAnalysis(sql, (text, searchPath) => this.#analyze(text, searchPath), this.#ctx.catalog);
    } catch (err) {
      return this.#catalogFailed(err, next);
    }
    if (!(resolved instanceof Promise)) return next(this.#remember(sql, resolved));
    return resolved.then(
      (a) => next(this.#remember(sql, a)),
      (err: unknown) => this.#catalogFailed(err, next),
    );
  }

  #catalogFailed(err: unknown, next: (a: AnalysisResult) => void): void {
    this.#log.warn({ err }, "catalog lookup failed; denying");
    next({ statements: [], fingerprint: "", parse_error: "regate could not reach the catalog to resolve names" });
  }

  #analyze(sql: string, searchPath?: string[]): AnalysisResult {
    return analyze(sql, {
      searchPath: searchPath ?? this.#searchPath.current,
      user: this.#user,
      prepared: this.#prepared,
      cursors: this.#cursors,
      catalog: this.#ctx.catalog,
    });
  }

  #remember(sql: string, a: AnalysisResult): AnalysisResult {
    // Facts depend on the search_path and SQL-level prepared names: cache only what is stable.
    const volatile = a.statements.some((s) => s.settings.length > 0 || s.kind === "prepare" || s.kind === "execute" || s.kind === "cursor" || s.kind === "fetch" || s.kind === "deallocate" || s.ddl);
    if (!volatile) {
      if (this.#analysisCache.size >= ANALYSIS_CACHE) this.#analysisCache.delete(this.#analysisCache.keys().next().value!);
      this.#analysisCache.set(sql, a);
    }
    return a;
  }

  #decide(message: PostgresInputParts["message"], extra: Record<string, unknown>, analysis?: AnalysisResult): Decision {
    const input = postgresInput(this.#info, { message, extra, searchPath: this.#searchPath.current, txStatus: this.#txStatus, ...(analysis ? { analysis } : {}) });
    const decision = this.#ctx.decider.decide(input);
    if (decision.outcome === "allow" && analysis) {
      // Backstop, whatever the policy says: COPY output bypasses DataRow masking.
      if (decision.mask.some((m) => m.column) && analysis.statements.some((s) => s.kind === "copy")) {
        return { ...decision, outcome: "deny", reasons: ["COPY cannot be masked; use SELECT"], error_code: "MASK_LINEAGE_UNKNOWN" };
      }
    }
    return decision;
  }

  #allowed(analysis: AnalysisResult): void {
    this.#searchPath.apply(analysis.statements, this.#txStatus === 0x49);
    for (const s of analysis.statements) {
      if (s.ddl) this.#ctx.catalog.invalidate(), this.#analysisCache.clear();
      const name = /^\s*(?:prepare|declare)\s+("(?:[^"]|"")+"|[^\s(]+)/i.exec(s.sql)?.[1];
      if (name && (s.kind === "prepare" || s.kind === "cursor")) {
        const key = name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
        (s.kind === "prepare" ? this.#prepared : this.#cursors).set(key, s);
      }
      if (s.kind === "deallocate" || isDiscardAll(s)) this.#prepared.clear();
    }
  }

  #query(f: Frame, analysis: AnalysisResult): void {
    const empty = analysis.statements.length === 0 && !analysis.parse_error;
    const decision = this.#decide("query", empty ? { empty_query: true } : {}, analysis);
    if (decision.outcome !== "allow") {
      this.#pending.push({ kind: "query", denial: decision, index: 0 });
      return this.#toServer(POISON_QUERY);
    }
    this.#allowed(analysis);
    this.#pending.push({ kind: "query", decision, analysis, index: 0 });
    this.#toServer(f.raw);
  }

  #parse(f: Frame, name: string, sql: string, paramTypes: number[], analysis: AnalysisResult): void {
    // With placeholders, the decision is taken at Bind with the values: one evaluation per execution.
    const deferred = paramTypes.length > 0 || /\$[0-9]/.test(sql);
    const decision = deferred ? undefined : this.#decide("parse", {}, analysis);
    if (decision && decision.outcome !== "allow") return this.#poison(decision);
    if (decision) this.#allowed(analysis);
    const statement: PreparedStatement = { name, sql, analysis, paramTypes, decision };
    this.#statements.set(name, statement);
    this.#pending.push({ kind: "parse", statement });
    this.#toServer(f.raw);
  }

  #bind(f: Frame): void {
    const msg = decodeBind(f.body);
    const statement = this.#statements.get(msg.statement);
    if (!statement) {
      // Unknown to us means unknown to the server too: it will refuse the Bind itself.
      this.#pending.push({ kind: "bind" });
      return this.#toServer(f.raw);
    }
    let decision = statement.decision;
    if (msg.params.length > 0 || !decision) {
      const parameters = parameterInputs(msg.params, msg.paramFormats, statement.paramTypes);
      decision = this.#decide("bind", { parameters }, statement.analysis);
      if (decision.outcome === "allow") this.#allowed(statement.analysis);
    }
    if (decision.outcome !== "allow") return this.#poison(decision);
    const portal: Portal = { name: msg.portal, statement, decision, resultFormats: msg.resultFormats };
    this.#portals.set(msg.portal, portal);
    this.#pending.push({ kind: "bind", portal });
    this.#toServer(f.raw);
    if (decision.mask.length > 0 && !statement.fields) {
      // The row shape is needed before the first DataRow; ask for it without the client seeing the reply.
      this.#pending.push({ kind: "describe", target: "P", portal, internal: true });
      this.#toServer(DESCRIBE_PORTAL(msg.portal));
    }
  }

  /** Extended protocol denial: a named Parse that cannot succeed, so the server fails the batch as for any error. */
  #poison(decision: Decision): void {
    this.#skipUntilSync = true;
    this.#pending.push({ kind: "parse", denial: decision });
    this.#toServer(POISON_PARSE);
  }

  // ---- server -> client ----------------------------------------------------------------------

  #onUpstreamData(chunk: Buffer): void {
    const client = this.#client;
    client.cork();
    try {
      this.#upReader.push(chunk, (f) => this.#onServerFrame(f));
    } catch (err) {
      this.#protocolError(err);
    } finally {
      client.uncork();
    }
  }

  #toClient(buf: Buffer): void {
    if (!this.#client.write(buf)) this.#upstream.socket.pause();
  }

  #onServerFrame(f: Frame): void {
    const head = this.#pending[0];
    switch (f.type) {
      case Backend.DataRow:
        return this.#toClient(this.#maskRow(f, head));
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
      case Backend.NoData: {
        this.#pending.shift();
        if (head && "internal" in head && head.internal) return;
        return this.#toClient(f.raw);
      }
      case Backend.ParameterDescription:
        if (head?.kind === "describe" && head.target === "S" && head.statement) head.statement.paramTypes = decodeParameterDescription(f.body);
        return this.#toClient(f.raw);
      case Backend.RowDescription:
        return this.#rowDescription(f, head);
      case Backend.CommandComplete:
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended:
        if (head?.kind === "query") {
          head.index++;
          head.plan = undefined;
        } else if (head?.kind === "execute") this.#pending.shift();
        return this.#toClient(f.raw);
      case Backend.ErrorResponse:
        return this.#error(f, head);
      case Backend.ReadyForQuery:
        this.#pending.shift();
        this.#txStatus = readyStatus(f.body);
        return this.#toClient(f.raw);
      case Backend.NoticeResponse:
        return this.#toClient(this.#maskNotice(f, head));
      case Backend.ParameterStatus: {
        const { name, value } = decodeParameterStatus(f.body);
        if ((name === "client_encoding" && value.toUpperCase() !== "UTF8") || (name === "standard_conforming_strings" && value !== "on")) {
          this.#toClient(f.raw);
          return this.terminate("UPSTREAM_SETTING_REFUSED", `${name} changed to ${value}; regate cannot enforce policy on this session`);
        }
        return this.#toClient(f.raw);
      }
      case Backend.CopyBothResponse:
        throw new RegateError("FEATURE_UNSUPPORTED", "replication streams are not allowed through regate");
      case Backend.NotificationResponse:
      case Backend.CopyInResponse:
      case Backend.CopyOutResponse:
      case Backend.CopyData:
      case Backend.CopyDone:
      case Backend.FunctionCallResponse:
        return this.#toClient(f.raw);
      default:
        throw new RegateError("PROTOCOL_VIOLATION", `unexpected upstream message ${String.fromCharCode(f.type)}`);
    }
  }

  #rowDescription(f: Frame, head: Pending | undefined): void {
    const fields = decodeRowDescription(f.body);
    let plan: MaskPlan | undefined;
    if (head?.kind === "describe") {
      this.#pending.shift();
      if (head.target === "S" && head.statement) {
        head.statement.fields = fields;
        plan = this.#plan(head.statement.decision ?? head.statement.shape, head.statement.analysis, fields);
      } else if (head.target === "P" && head.portal) {
        head.portal.fields = fields;
        head.portal.statement.fields ??= fields;
        plan = this.#plan(head.portal.decision, head.portal.statement.analysis, fields);
        head.portal.plan = plan ?? null;
      }
      if (head.internal) return;
    } else if (head?.kind === "query" && head.decision) {
      plan = this.#plan(head.decision, head.analysis, fields, head.index);
      head.plan = plan ?? null;
    }
    this.#toClient(plan ? encodeRowDescription(rewriteFields(fields, plan)) : f.raw);
  }

  #plan(decision: Decision | undefined, analysis: AnalysisResult | undefined, fields: FieldDescription[], index = 0): MaskPlan | undefined {
    if (!decision || decision.mask.length === 0) return undefined;
    const facts = analysis?.statements[index];
    return buildMaskPlan(decision.mask, facts, fields, (oid, attnum) => this.#ctx.catalog.column(oid, attnum));
  }

  #maskRow(f: Frame, head: Pending | undefined): Buffer {
    if (head?.kind === "query") {
      if (!head.plan) return f.raw;
      const plan = head.plan;
      return rewriteDataRow(f.raw, plan.columns, (i, v) => maskValue(plan, i, v, false, this.#ctx.maskKey));
    }
    if (head?.kind === "execute" && head.portal && head.portal.decision.mask.length > 0) {
      const portal = head.portal;
      if (portal.plan === undefined) {
        const fields = portal.fields ?? portal.statement.fields;
        // Masks apply and the row shape is unknown: nothing can be shown safely.
        if (!fields) throw new RegateError("MASK_LINEAGE_UNKNOWN", "row shape unknown for a masked result");
        portal.plan = this.#plan(portal.decision, portal.statement.analysis, fields) ?? null;
      }
      const plan = portal.plan;
      if (!plan) return f.raw;
      const formats = portal.resultFormats;
      return rewriteDataRow(f.raw, plan.columns, (i, v) => maskValue(plan, i, v, (formats.length === 1 ? formats[0] : formats[i]) === 1, this.#ctx.maskKey));
    }
    return f.raw;
  }

  #activeDecision(head: Pending | undefined): Decision | undefined {
    if (head?.kind === "query") return head.decision;
    if (head?.kind === "execute" || (head?.kind === "bind" && head.portal)) return head.portal?.decision;
    return undefined;
  }

  /** Error and notice text can quote row values (`DETAIL: Key (email)=(...)`): mask them as the result would be. */
  #maskNotice(f: Frame, head: Pending | undefined): Buffer {
    const decision = this.#activeDecision(head);
    if (!decision || decision.mask.length === 0) return f.raw;
    const fields = decodeNotice(f.body);
    let changed = false;
    for (const code of ["M", "D", "W", "H"]) {
      const text = fields[code];
      if (!text) continue;
      let masked = maskText(text, ["email", "card", "ssn", "phone", "iban", "aws_key", "jwt", "secret"], "redact") ?? "";
      // Row values quoted by the server: "Key (col)=(value)", "Failing row contains (...)".
      masked = masked.replace(/(Key \([^)]*\)=\()(.*)(\))/g, "$1****$3").replace(/(Failing row contains \()(.*)(\))/g, "$1****$3");
      if (masked !== text) {
        fields[code] = masked;
        changed = true;
      }
    }
    return changed ? encodeNotice(f.type as typeof Backend.ErrorResponse, fields) : f.raw;
  }

  #error(f: Frame, head: Pending | undefined): void {
    const denial = head && "denial" in head ? head.denial : undefined;
    if (head && EXTENDED.has(head.kind)) {
      // The server now skips to Sync: the replies we expected for those messages will not come.
      const syncAt = this.#pending.findIndex((p) => p.kind === "sync");
      if (syncAt === -1) {
        this.#pending.length = 0;
        this.#serverSkipping = true;
      } else this.#pending.splice(0, syncAt);
    }
    if (denial) return this.#toClient(this.#denialError(denial));
    this.#toClient(this.#maskNotice(f, head));
  }

  #denialError(d: Decision): Buffer {
    const sqlstate = d.error_code ? ERROR_CODES[d.error_code as keyof typeof ERROR_CODES]?.sqlstate ?? "42501" : "42501";
    if (d.outcome === "approve" && d.approve) {
      return errorResponse("42501", `regate: approval required: ${d.approve.reason}`, {
        detail: `decision_id ${d.decision_id}`,
        hint: `approvers: ${d.approve.approvers}; human approval is not available in this version, so the statement was not run`,
      });
    }
    return errorResponse(sqlstate, `regate: ${d.reasons.join("; ") || "denied by policy"}`, {
      detail: `decision_id ${d.decision_id}`,
      ...(d.error_code ? { hint: `error code ${d.error_code}` } : {}),
    });
  }
}
