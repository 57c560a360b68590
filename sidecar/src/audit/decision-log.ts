import { pino, type Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { RegateError } from "../errors.js";
import { LogBatch } from "./batch.js";
import { OpaEventJson } from "./opa-event.js";
import { SecretScrubber, type SecretSource } from "./secret-scrubber.js";

export interface DecisionLogOptions {
  /** Bundle name under `bundles` in the event, as OPA names a bundle in its config. */
  bundleName: string;
  labels: Record<string, string>;
  /**
   * Secrets regate holds (upstream password, agent tokens, route credentials). Inputs never carry them by
   * construction, but an agent can type one into a statement, and the statement's text is logged: every
   * form of them (as is, JSON-escaped, base64) is replaced in the line.
   */
  secrets?: SecretSource;
  /**
   * Most bytes of log lines that may wait for the destination (stdout nobody reads, a stuck log shipper)
   * before new statements are refused; 0: no bound (memory grows until the destination drains).
   */
  maxBufferedBytes?: number;
}

interface LineStream {
  write(line: string): unknown;
  /** pino's asynchronous destination (sonic-boom): bytes accepted and not yet written. */
  _len?: number;
  /** A Node stream's equivalent. */
  writableLength?: number;
}

/**
 * One line per decision in OPA's decision-log event shape (EventV1), written the way OPA's console
 * logger writes it, so anything that reads OPA decision logs reads these.
 *
 * The line goes to the logger's own destination, in the logger's line format (level, time, bindings,
 * msg), but is assembled here rather than by pino: pino would serialise the whole input again, and the
 * decision log is the largest cost of a decision after the policy itself. Lines are built and written in
 * batches (LogBatch): the statement a line decided is on its way upstream before the line is built.
 */
export class DecisionLog implements DecisionSink {
  readonly #event: OpaEventJson;
  readonly #logger: Logger;
  readonly #stream: LineStream;
  readonly #bindings: string;
  readonly #secrets: SecretScrubber;
  readonly #maxBuffered: number;
  /** Set by admit() when it refused: the refusal it caused is counted, not written to the full destination. */
  #refusing = false;
  #unlogged = 0;
  /** Decided, their lines not yet built. */
  readonly #pending = new LogBatch<DecisionEvent>((events) => this.#write(events));

  constructor(logger: Logger, opts: DecisionLogOptions) {
    this.#logger = logger;
    this.#event = new OpaEventJson({ bundle_name: opts.bundleName, labels: opts.labels });
    this.#stream = (logger as unknown as Record<symbol, LineStream>)[pino.symbols.streamSym]!;
    const bindings = JSON.stringify(logger.bindings());
    this.#bindings = bindings === "{}" ? "" : `,${bindings.slice(1, -1)}`;
    this.#secrets = new SecretScrubber(opts.secrets ?? []);
    this.#maxBuffered = opts.maxBufferedBytes ?? 0;
  }

  #buffered(): number {
    const s = this.#stream;
    return this.#pending.bytes + (typeof s._len === "number" ? s._len : (s.writableLength ?? 0));
  }

  /** Writes the lines of the decisions waiting for their batch. */
  flush(): void {
    this.#pending.flush();
  }

  #write(events: DecisionEvent[]): void {
    const lines = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      lines[i] = `{"level":"info","time":"${e.timestamp}"${this.#bindings},${this.#event.members(e, "openpolicyagent.org/decision_logs")},"msg":"Decision Log"}\n`;
    }
    // One flat string (join) rather than a rope of every line's parts: the search for secrets reads it faster.
    this.#stream.write(this.#secrets.scrub(lines.join("")));
  }

  /** Flushes and stops taking part in the exit flush; later lines are still written. */
  close(): void {
    this.#pending.close();
  }

  /** The destination holds more than it may: adapters that can wait do so (bounded) before deciding. */
  full(): boolean {
    return this.#maxBuffered > 0 && this.#buffered() > this.#maxBuffered;
  }

  /**
   * Fail closed when the log cannot be written: a statement whose decision could not be logged does not
   * run. The refusals themselves are counted while the destination is full, and reported once it drains.
   */
  admit(): RegateError | undefined {
    if (!this.full()) return undefined;
    this.#refusing = true;
    return new RegateError("DECISION_LOG_BACKPRESSURE", "the decision log cannot be written (its destination is not being read); refused until it is", {
      detail: `${Math.round(this.#buffered() / 1024)} KiB of decision log wait for the destination (limit ${Math.round(this.#maxBuffered / 1024)} KiB)`,
    });
  }

  record(e: DecisionEvent): void {
    if (this.#refusing) {
      this.#refusing = false;
      if (e.decision.error_code === "DECISION_LOG_BACKPRESSURE") {
        this.#unlogged++;
        return;
      }
    }
    if (this.#unlogged > 0) {
      this.#logger.warn({ event: "decision_log_blocked", refused_unlogged: this.#unlogged }, "the decision log's destination was full: statements were refused, and these refusals were not logged one by one");
      this.#unlogged = 0;
    }
    if (!this.#logger.isLevelEnabled("info")) return;
    // The event and what it refers to are not changed once decided: it is written as it is now. Its logged
    // view (masks applied, the input's JSON) is made when the batch is written, off the decision's path.
    this.#pending.push(e, (e.input_chars ?? e.input_json?.length ?? 2048) + 512);
  }
}
