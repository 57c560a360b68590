import { RegateError } from "../errors.js";
import type { HttpLimits } from "./options.js";

const DEFAULT_MAX_MASKED_BODY_BYTES = 32 * 1024 * 1024;
/** http.limits.max_connections's default (config/schema.ts): the listener's cap when none is given. */
const DEFAULT_MAX_CONNECTIONS = 1024;

/** The gateway's limits, every one a positive number, defaults filled in: checked once, at start. */
export function checkedLimits(given: HttpLimits): Readonly<Required<HttpLimits>> {
  return Object.freeze({
    max_body_bytes: positive("max_body_bytes", given.max_body_bytes),
    max_input_body_bytes: positive("max_input_body_bytes", given.max_input_body_bytes),
    timeout_ms: positive("timeout_ms", given.timeout_ms),
    max_masked_body_bytes: positive("max_masked_body_bytes", given.max_masked_body_bytes ?? DEFAULT_MAX_MASKED_BODY_BYTES),
    max_connections: positive("max_connections", given.max_connections ?? DEFAULT_MAX_CONNECTIONS),
  });
}

function positive(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new RegateError("CONFIG_INVALID", `limits.${name} must be a positive number`);
  return v;
}
