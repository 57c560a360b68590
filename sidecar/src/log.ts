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
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
