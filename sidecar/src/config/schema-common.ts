// Schema pieces more than one section uses.

export const secretRef = {
  description: "A secret: read from an environment variable or a file, or given inline (inline is for demos only).",
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    env: { type: "string", minLength: 1, description: "Name of an environment variable holding the secret." },
    file: { type: "string", minLength: 1, description: "Path of a file holding the secret (trailing newline ignored)." },
    value: { type: "string", minLength: 1, description: "The secret itself (demos and tests)." },
  },
} as const;

export const listen = (port: number, description: string) =>
  ({
    type: "object",
    description,
    additionalProperties: false,
    default: {},
    properties: {
      host: { type: "string", default: "127.0.0.1", description: "Address to bind; loopback unless you mean it." },
      port: { type: "integer", minimum: 0, maximum: 65535, default: port, description: "Port to bind; 0: any free port (the Postgres and HTTP listeners log the one bound)." },
    },
  }) as const;

