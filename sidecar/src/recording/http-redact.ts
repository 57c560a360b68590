import type { Decision } from "../decision/index.js";
import { fieldNameFold, fieldNameLookup } from "../http/field-names.js";
import { DETECTOR_NAMES, isCredentialName, maskText, REDACTED } from "../mask/index.js";
import { putMember } from "./members.js";

// What of an HTTP request may enter a recording. It starts from the input as the decision log has it
// (after system.log.mask), and goes further: every value under a key a field mask names is replaced whole
// (the same names the response is masked by), and every detector runs over every string that is kept, as
// it does over the path in the request log. Headers are left out but for the content type.

/**
 * Keys are compared with the rules' names by spelling (http/field-names.ts: look-alike and invisible
 * characters folded, case and `_ - . space` not counted), whatever `http.mask_field_names` says for
 * responses: spelling matches every key the other two settings match, and a recording must keep nothing a
 * response would have masked. `cardNumber`, `Card Number` and `ｃａｒｄ＿ｎｕｍｂｅｒ` fall under `card_number`;
 * `card_numbers`, `session` and `ssn_count` do not fall under `card_number` or `ssn`. A dotted name is read as
 * field-names.ts reads it under `spelling`, a path written flat: `customer.ssn` and `user.email` fall under
 * `ssn` and `email`, `email.verified` and `app.kubernetes.io/name` under neither.
 */
const spelled = fieldNameFold("spelling");

/** Whether a key names a field a mask rule names. */
type FieldLookup = (key: string) => true | undefined;

function fieldNames(decision: Decision): FieldLookup {
  const names = new Map<string, true>();
  for (const m of decision.mask) {
    if (!m.field) continue;
    // A JSON pointer names its last token; a plain field name matches at any depth.
    const last = m.field.startsWith("/") ? m.field.split("/").at(-1)!.replace(/~1/g, "/").replace(/~0/g, "~") : m.field;
    names.set(spelled(last), true);
  }
  return fieldNameLookup(names, "spelling", spelled);
}

const text = (s: string): string => maskText(s, DETECTOR_NAMES, "redact") ?? REDACTED;

function walk(v: unknown, fields: FieldLookup): unknown {
  if (typeof v === "string") return text(v);
  if (!v || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => walk(x, fields));
  const out: Record<string, unknown> = {};
  // A value under a field mask's name, or under a credential's name (`password`, `access_token`, …: the
  // agent's own credential for the upstream), is replaced whole. The credential names are judged on the key
  // as spelled too: `Api Key` and `pass\u200bword` are credentials. Every member is kept, `__proto__` and two
  // names redacted alike included (members.ts).
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    putMember(out, text(k), (fields(k) !== undefined || isCredentialName(k)) && x !== null ? REDACTED : walk(x, fields));
  }
  return out;
}

interface LoggedHttp {
  method?: string;
  request_method?: string;
  path?: string;
  query?: string;
  parsed_query?: Record<string, string[]>;
  route?: { name?: string };
  headers?: Record<string, string>;
  parsed_body?: unknown;
  body_parse_error?: unknown;
  truncated_body?: boolean;
  body_size?: number;
  mcp?: { type?: string; method?: string; id?: unknown; tool?: string; uri?: string; prompt?: string; arguments?: unknown };
}

/** The `request` part of an HTTP record, from the logged input's `http` member. */
export function recordableRequest(http: unknown, decision: Decision): Record<string, unknown> {
  const h = (http ?? {}) as LoggedHttp;
  const fields = fieldNames(decision);
  // Every string the agent chose goes through the detectors, not only the body: the MCP members read from it
  // (an `id` or a tool name can carry an e-mail address the body's copy has redacted) and the content type.
  const mcp = h.mcp
    ? {
        type: walk(h.mcp.type, fields),
        method: walk(h.mcp.method, fields),
        id: walk(h.mcp.id, fields),
        tool: walk(h.mcp.tool, fields),
        uri: walk(h.mcp.uri, fields),
        prompt: walk(h.mcp.prompt, fields),
        arguments: walk(h.mcp.arguments, fields),
      }
    : undefined;
  return {
    method: h.method,
    request_method: h.request_method !== h.method ? h.request_method : undefined,
    route: h.route?.name,
    path: typeof h.path === "string" ? text(h.path) : undefined,
    query: h.parsed_query && Object.keys(h.parsed_query).length ? walk(h.parsed_query, fields) : undefined,
    content_type: walk(h.headers?.["content-type"], fields),
    body: walk(h.parsed_body, fields),
    body_bytes: h.body_size,
    body_parse_error: h.body_parse_error ? true : undefined,
    truncated_body: h.truncated_body || undefined,
    mcp,
  };
}
