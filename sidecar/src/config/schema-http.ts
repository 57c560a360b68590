// The HTTP data path's section of the configuration: listener, routes (upstream, credential, response
// types), limits, method overrides and ambiguous paths, key matching. Part of configSchema (schema.ts).
import { listen, secretRef } from "./schema-common.js";

export const httpSchema = {
  type: "object",
  default: {},
  additionalProperties: false,
  properties: {
    enabled: { type: "boolean", default: false, description: "Run the HTTP listener." },
    listen: listen(8080, "Where agents send HTTP requests."),
    routes: {
      type: "array",
      default: [],
      description: "Upstreams agents reach through regate. A request goes to the route naming its Host, else to a route naming none; among those the longest matching prefix wins. A request no route matches is refused 404.",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "upstream"],
        properties: {
          name: { type: "string", description: "Route name, in input.http.route and the decision log." },
          prefix: { type: "string", default: "/", pattern: "^/", description: "Path prefix this route serves, matched at a segment boundary (/crm matches /crm and /crm/x, not /crmx); stripped before the upstream path is joined." },
          host: { type: "string", description: "Host (without port, any case) this route serves; unset: any host." },
          upstream: { type: "string", pattern: "^https?://", description: "Base URL of the upstream; its path is put before the path left after the prefix. Userinfo (`https://user:pass@host`) becomes the route's basic credential, a secret, unless `credential` is set; it is taken out of the URL either way." },
          ca_file: { type: "string", description: "PEM CA bundle to verify an https upstream with (default: the system's CAs)." },
          mcp: {
            type: "boolean",
            default: false,
            description: "The upstream is an MCP server: every request of this route, a GET event stream or a message regate cannot read as MCP included, has input.http.route.mcp set, so a policy can judge and mask all of it as MCP (the example policy looks for personal data by its shape in every answer).",
          },
          response_types: {
            type: "array",
            items: { type: "string", pattern: "^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$" },
            description: "Media types this upstream answers with. When field masks apply and none of them is JSON or an event stream, the request is refused before it reaches the upstream; a response of another type is refused.",
          },
          credential: {
            type: "object",
            additionalProperties: false,
            required: ["type", "secret"],
            description: "The credential regate adds to every request of this route (the agent never holds it; it is scrubbed from every response).",
            properties: {
              type: { enum: ["bearer", "basic", "header"], description: "bearer: Authorization: Bearer <secret>. basic: Authorization: Basic, the secret being user:password. header: the secret as the value of `header`." },
              header: { type: "string", description: "Header name for type header (e.g. x-api-key)." },
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
        max_body_bytes: { type: "integer", minimum: 0, default: 10485760, description: "Largest request body (inflated, when it came compressed); larger is refused 413 before anything is forwarded." },
        max_input_body_bytes: { type: "integer", minimum: 0, default: 65536, description: "Bodies up to this size are parsed into the input." },
        timeout_ms: { type: "integer", minimum: 100, default: 30000, description: "How long the upstream may take to start its answer, and may stay silent while regate reads a body it masks; past it the agent gets 504. Also the drain time of in-flight requests at shutdown." },
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
      description: "Mask field rules match JSON keys exactly: the older spelling of mask_field_names: exact, which it overrides when true.",
    },
    mask_field_names: {
      enum: ["spelling", "case", "exact"],
      default: "spelling",
      description: "How mask field rules match JSON keys and names written as data (a name/value pair's name, an entry's first element, a query parameter). spelling: case and the separators _ - . and space do not count (card_number is cardNumber, CardNumber, card-number, Card Number), and a dotted name is a path written flat whose last parts name the field too (user.email is email, customer.card.number is card_number; email.verified is not email); case: only case does not count; exact: as written. Response header names and what recordings keep of requests match by spelling whatever this says.",
    },
  },
} as const;
