import { pino, type Logger, type DestinationStream } from "pino";

/**
 * Paths that must never carry a value into a log line. Secrets are kept out of log objects by
 * construction; this list is the second line of defence for anything that slips through.
 */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "*.headers[\"proxy-authorization\"]",
  "credential",
  "*.credential",
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: "regate" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      serializers: { err: serializeErr },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * pino's error serializer, less the URL Node's ERR_INVALID_URL carries whole in `input` and `base`: a URL
 * regate could not parse may hold a credential (userinfo, a `?token=`), and its message says only "Invalid URL".
 */
function serializeErr(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (out && typeof out === "object" && out["code"] === "ERR_INVALID_URL") {
    delete out["input"];
    delete out["base"];
  }
  return out;
}

/** What a log destination holds that it has not written yet: sonic-boom (pino's) or a Node stream. */
interface Pending {
  _len?: number;
  _writing?: boolean;
  writableLength?: number;
}

/** Bytes `stream` has accepted and not yet written. */
export function unwritten(stream: unknown): number {
  const s = stream as Pending;
  if (typeof s._len === "number") return s._len > 0 || s._writing ? Math.max(s._len, 1) : 0;
  return s.writableLength ?? 0;
}

/**
 * Resolves once `stream` has written everything it accepted, or once it has written nothing for `idleMs`
 * (a destination nobody reads must not hold the exit for good). A destination read slowly but steadily is
 * waited for: lines still waiting at process.exit() are lost (pino's exit flush skips the write sonic-boom
 * has in flight, and an asynchronous pipe's queue is simply dropped). logger.flush(cb) does not wait:
 * sonic-boom calls cb at once when its minLength is 0, as pino.destination() makes it.
 */
export function whenWritten(stream: unknown, idleMs: number): Promise<void> {
  return new Promise((resolve) => {
    let last = unwritten(stream);
    let progressAt = Date.now();
    const check = () => {
      const now = unwritten(stream);
      if (now === 0) return resolve();
      if (now !== last) progressAt = Date.now();
      last = now;
      if (Date.now() - progressAt >= idleMs) return resolve();
      setTimeout(check, 10);
    };
    check();
  });
}

/** The destination a logger writes to. */
export function destinationOf(log: Logger): unknown {
  return (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
}

export type { Logger };
