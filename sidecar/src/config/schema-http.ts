// The HTTP data path's section of the configuration: listener, routes (upstream, credential, response
// types), limits, method overrides and ambiguous paths, key matching. Part of configSchema (schema.ts).
import { listen, secretRef } from "./schema-common.js";

export const httpSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  properties: {
    enabled: { type: "boolean", default: false },
    listen: listen(8080, "Where agents send HTTP requests."),
    routes: {
      type: "array",
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "upstream"],
        properties: {
          name: { type: "string" },
          prefix: { type: "string", default: "/", pattern: "^/" },
          host: { type: "string" },
          upstream: { type: "string", pattern: "^https?://" },
          ca_file: { type: "string" },
          response_types: {
            type: "array",
            items: { type: "string", pattern: "^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$" },
            description: "Media types this upstream answers with. When field masks apply and none of them is JSON or an event stream, the request is refused before it reaches the upstream; a response of another type is refused.",
          },
          credential: {
            type: "object",
            additionalProperties: false,
            required: ["type", "secret"],
            properties: {
              type: { enum: ["bearer", "basic", "header"] },
              header: { type: "string" },
              secret: secretRef,
            },
          },
        },
      },
    },
    limits: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        max_body_bytes: { type: "integer", minimum: 0, default: 10485760 },
        max_input_body_bytes: { type: "integer", minimum: 0, default: 65536, description: "Bodies up to this size are parsed into the input." },
        timeout_ms: { type: "integer", minimum: 100, default: 30000 },
        max_connections: {
          type: "integer",
          minimum: 1,
          default: 1024,
          description:
            "Connections the HTTP listener holds at once (per worker process when workers > 1), idle keep-alive and slow ones included. A connection over it is answered 503 CONNECTION_LIMIT with Retry-After: 1 once its request arrives, then closed (one that sends nothing is closed after 2 s); each is counted in regate_http_connections_refused_total.",
        },
      },
    },
    request: {
      type: "object",
      default: {},
      additionalProperties: false,
      properties: {
        method_override: {
          enum: ["decide", "strip"],
          default: "decide",
          description: "decide: the policy judges the method an override header or _method parameter names. strip: overrides are removed before deciding (a _method in a body is then refused).",
        },
        ambiguous_paths: {
          enum: ["refuse", "canonical"],
          default: "refuse",
          description: "refuse: 400 for a path with an encoded / or \\, a \\ or a ;. canonical: rewrite them (/ for the slashes, ;params cut) and forward the canonical path.",
        },
      },
    },
    mask_case_sensitive: {
      type: "boolean",
      default: false,
      description: "Mask field rules match JSON keys exactly. Off by default: Email, EMAIL and email are the same field.",
    },
  },
} as const;
