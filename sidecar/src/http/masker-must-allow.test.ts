import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import type { MaskRule } from "../decision/types.js";
import { REDACTED } from "../mask/index.js";
import { JsonMaskStream } from "./json-stream.js";
import { maskResponseHeaders } from "./mask-headers.js";
import { ResponseMasker } from "./masker.js";
import { SseMasker } from "./sse-mask.js";

// Must-allow: responses shaped like common public APIs pass through the masker byte for byte but for their
// PII, under the example policy's HTTP rules (rego/regate/http.rego), its MCP rules and detectors alone. The
// readings added for byte arrays, base64 runs, Python JSON, unread event-stream lines, MCP schemas and UUIDs
// must not touch ids, hashes, cursors, coordinates, small-integer series or images.

const KEY = Buffer.alloc(32, 7);
const FIELDS: MaskRule[] = [
  { field: "email", strategy: "partial" },
  { field: "phone", strategy: "redact" },
  { field: "ssn", strategy: "redact" },
  { field: "card_number", strategy: "partial" },
];
const DETECTORS: MaskRule[] = [
  { detector: "email", strategy: "partial" },
  { detector: "ssn", strategy: "redact" },
  { detector: "card", strategy: "partial" },
];
const RULE_SETS: [string, MaskRule[]][] = [
  ["fields", FIELDS],
  ["fields and detectors (MCP)", [...FIELDS, ...DETECTORS]],
  ["detectors only", DETECTORS],
];

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const b64url = (s: string): string => Buffer.from(s).toString("base64url");
const jwtPart = (o: unknown): string => b64url(JSON.stringify(o));
// A PNG's first bytes and a tiny IDAT: binary, as every thumbnail is.
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff61", "hex"), Buffer.alloc(48, 0x9c)]).toString("base64");

const GITHUB_REPO = {
  id: 1296269,
  node_id: "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
  name: "Hello-World",
  full_name: "octocat/Hello-World",
  owner: { login: "octocat", id: 1, node_id: "MDQ6VXNlcjE=", avatar_url: "https://github.com/images/error/octocat_happy.gif", gravatar_id: "", type: "User" },
  private: false,
  description: "This your first repo!",
  default_branch: "main",
  topics: ["octocat", "atom", "electron", "api"],
  license: { key: "mit", name: "MIT License", spdx_id: "MIT", node_id: "MDc6TGljZW5zZW1pdA==" },
  created_at: "2011-01-26T19:01:12Z",
  pushed_at: "2011-01-26T19:06:43Z",
  size: 108,
  stargazers_count: 80,
  watchers_count: 80,
  forks_count: 9,
  open_issues_count: 0,
  permissions: { admin: false, push: false, pull: true },
  temp_clone_token: "ABTLWHOULUVAXGTRYU7OC2876QJ2O",
  security_and_analysis: { secret_scanning: { status: "enabled" } },
};
const GITHUB_ISSUE = {
  id: 1,
  node_id: "I_kwDOABCD5M5Hq8xK",
  number: 1347,
  title: "Found a bug",
  body: "I'm having a problem with this.\n\n```\nsha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n```",
  labels: [{ id: 208045946, node_id: "MDU6TGFiZWwyMDgwNDU5NDY=", name: "bug", color: "f29513", default: true }],
  reactions: { total_count: 5, "+1": 3, "-1": 0, laugh: 0, hooray: 0, confused: 0, heart: 1, rocket: 1, eyes: 0 },
  locked: true,
  active_lock_reason: "too heated",
  created_at: "2011-04-22T13:33:48Z",
};
const GITHUB_COMMIT = {
  sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
  node_id: "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
  commit: {
    author: { name: "Monalisa Octocat", email: "support@github.com", date: "2011-04-14T16:00:49Z" },
    message: "Fix all the bugs",
    tree: { sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e" },
    verification: { verified: false, reason: "unsigned", signature: null, payload: null },
  },
  parents: [{ sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e" }],
  stats: { additions: 104, deletions: 4, total: 108 },
  files: [{ filename: "file1.txt", additions: 10, deletions: 2, changes: 12, status: "modified", patch: "@@ -29,7 +29,7 @@\n....." }],
};
const GITHUB_CONTENT = {
  type: "file",
  encoding: "base64",
  size: 5362,
  name: "README.md",
  path: "README.md",
  content: b64("# Hello World\n\nA sample repo, built 2011-01-26, see issue 1347.\n").replace(/(.{60})/g, "$1\n"),
  sha: "3d21ec53a331a6f037a91c368710b99387d012c1",
};
const STRIPE_CHARGE = {
  id: "ch_3MmlLrLkdIwHu7ix0snN0B15",
  object: "charge",
  amount: 1099,
  amount_captured: 1099,
  balance_transaction: "txn_3MmlLrLkdIwHu7ix0uke3Ezy",
  billing_details: { address: { city: null, country: null, line1: null, postal_code: null }, email: null, name: null, phone: null },
  calculated_statement_descriptor: "Stripe",
  created: 1679090539,
  currency: "usd",
  customer: "cus_NffrFeUfNV2Hib",
  livemode: false,
  metadata: {},
  paid: true,
  payment_intent: "pi_3MmlLrLkdIwHu7ix0a5D5E2D",
  payment_method: "pm_1MmlLrLkdIwHu7ixIJwEWSNR",
  payment_method_details: {
    card: { brand: "visa", checks: { cvc_check: "pass" }, country: "US", exp_month: 3, exp_year: 2024, fingerprint: "mToisGZ01V71BCos", funding: "credit", last4: "4242", network: "visa" },
    type: "card",
  },
  receipt_url: "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KOvG6KAGMgZfBXyr1aw6LBa9vaaDRWU96ZMPU1Az",
  status: "succeeded",
};
const STRIPE_LIST = { object: "list", url: "/v1/customers", has_more: true, data: [{ id: "cus_NffrFeUfNV2Hib", object: "customer", email: "jennyrosen@example.com", phone: "+15555550123", invoice_prefix: "0759376C", metadata: {} }] };
const SLACK_HISTORY = {
  ok: true,
  messages: [
    { type: "message", user: "U012AB3CDE", text: "I find you punny and would like to smell your nose letter", ts: "1512085950.000216", client_msg_id: "d055efc3-3d86-4322-9401-814896b0a5d3" },
    { type: "message", user: "U061F7AUR", text: "What, you want to smell my shoes better?", ts: "1512104434.000490", thread_ts: "1512104434.000490" },
  ],
  has_more: true,
  pin_count: 0,
  response_metadata: { next_cursor: b64("next_ts:1512085861000543") },
};
const OPENAI_CHAT = {
  id: "chatcmpl-8mcLrHz0tkEXSBLKlCPJZpASeQ0gY",
  object: "chat.completion",
  created: 1706653767,
  model: "gpt-4o-2024-08-06",
  system_fingerprint: "fp_44709d6fcb",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "Hello there, how may I assist you today?", refusal: null },
      logprobs: {
        content: [
          { token: "Hello", logprob: -0.31725305, bytes: [72, 101, 108, 108, 111], top_logprobs: [{ token: "Hello", logprob: -0.31725305, bytes: [72, 101, 108, 108, 111] }] },
          { token: " there", logprob: -1.5e-6, bytes: [32, 116, 104, 101, 114, 101], top_logprobs: [] },
          { token: ",", logprob: -0.0001, bytes: [44], top_logprobs: [] },
          { token: " 2024", logprob: -0.2, bytes: [32, 50, 48, 50, 52], top_logprobs: [] },
        ],
      },
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, completion_tokens_details: { reasoning_tokens: 0 } },
};
const K8S_POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-7d4b9c8f6d-x2x7k",
    namespace: "default",
    uid: "a1b2c3d4-4111-1111-1111-111111111111",
    resourceVersion: "91827364",
    generation: 1,
    creationTimestamp: "2024-03-01T12:00:00Z",
    labels: { app: "web", "pod-template-hash": "7d4b9c8f6d" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c8f6d", uid: "d055efc3-3d86-4322-9401-814896b0a5d3", controller: true }],
    managedFields: [{ manager: "kube-controller-manager", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, "f:status": { "f:conditions": { 'k:{"type":"Ready"}': { ".": {} } } } } }],
  },
  spec: { containers: [{ name: "web", image: "nginx:1.25", ports: [{ containerPort: 80, protocol: "TCP" }], resources: { limits: { cpu: "500m", memory: "128Mi" } } }] },
  status: {
    phase: "Running",
    podIP: "10.244.0.12",
    containerStatuses: [
      { name: "web", ready: true, restartCount: 0, imageID: "docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31", containerID: "containerd://9f3b2c1d0e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c" },
    ],
  },
};
const K8S_SECRET = { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "db", uid: "6c8a6a4e-2b1f-4c3d-9e8f-0a1b2c3d4e5f", resourceVersion: "918273" }, data: { username: b64("admin"), host: b64("postgres.default.svc.cluster.local"), port: b64("5432") } };
const GEOJSON = {
  type: "FeatureCollection",
  bbox: [10, 20, 30, 40],
  features: [
    { type: "Feature", id: 42, geometry: { type: "Point", coordinates: [-122.4194, 37.7749] }, properties: { name: "SF", population: 815201 } },
    { type: "Feature", geometry: { type: "Polygon", coordinates: [[[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]] }, properties: { tile: [12, 655, 1583], zxy: [12, 65, 158, 3] } },
  ],
};
const TOPOJSON = { type: "Topology", transform: { scale: [0.001, 0.001], translate: [-180, -90] }, arcs: [[[0, 0], [15, 20], [3, 4]], [[102, 103, 104, 105, 106, 107]]], objects: {} };
const SERIES = {
  metric: "requests",
  unit: "count",
  interval: "1h",
  points: [3, 0, 1, 4, 7, 12, 9, 8, 15, 22, 31, 40, 38, 27, 19, 11],
  hourly_f: [52, 53, 54, 55, 56, 56, 57, 57, 57, 56, 55, 54, 53, 52, 51, 52],
  hr_bpm: [72, 68, 64, 70, 75, 77, 81, 99, 111, 109],
  percent: [100, 99, 98, 97, 97, 96],
  by_day: { "0": 5, "1": 7, "2": 3, "3": 9 },
};
const COLORS = { palette: [[255, 0, 0], [0, 128, 255]], rgba: [255, 255, 255, 0], theme: { bg: [32, 33, 36, 255], fg: [232, 234, 237, 255] }, histogram: [0, 12, 45, 120, 200, 180, 64, 10] };
const IMAGES = {
  thumbnail: PNG,
  data_url: `data:image/png;base64,${PNG}`,
  svg_icon: `data:image/svg+xml;base64,${b64('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12 2 L22 22 L2 22 Z"/></svg>')}`,
};
const PAGINATION = {
  next: `https://api.example.com/v2/items?cursor=${b64url(JSON.stringify({ id: 48213, created_at: "2024-05-01T10:00:00Z" }))}&limit=50`,
  cursor: "Y3Vyc29yOnYyOpHOAAm8Yw==",
  after: b64(JSON.stringify({ sort: ["2024-05-01", 48213], v: 2 })),
  page_token: "CjsKDgoGdXBkYXRlEgQIgJoMEiVqDXN-cHJvamVjdC1pZHIUCxIHQWNjb3VudBiAgICAgICACgwYACAB",
};
const OAUTH = {
  access_token: `${jwtPart({ alg: "RS256", typ: "JWT", kid: "k1" })}.${jwtPart({ iss: "https://auth.example.com", sub: "auth0|5f7c8ec7c33c6c004bbafe82", aud: "api", exp: 1716239022, scope: "read:items" })}.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtbm90LXJlYWw`,
  token_type: "Bearer",
  expires_in: 3600,
  refresh_token: "v1.MjAyNC0wNS0wMVQxMDowMDowMFo.Rtq8xZ3vP0aB",
  scope: "openid profile",
};
const ETAGS = { etag: '"33a64df551425fcc55e4d42a148795d9f25f89d4"', weak: 'W/"0815"', items: [{ etag: '"MTY5NTQ4MDAwMDAwMA=="', id: 1 }] };

const MUST_ALLOW: [string, unknown][] = Object.entries({
  GITHUB_REPO,
  GITHUB_ISSUE,
  GITHUB_CONTENT,
  STRIPE_CHARGE,
  OPENAI_CHAT,
  K8S_POD,
  K8S_SECRET,
  GEOJSON,
  TOPOJSON,
  SERIES,
  COLORS,
  IMAGES,
  PAGINATION,
  OAUTH,
  ETAGS,
  SLACK_HISTORY,
});

const masker = (rules: MaskRule[]): ResponseMasker => ResponseMasker.from(rules, KEY)!;

function stream(m: ResponseMasker, body: string, cut: number): Promise<string> {
  const b = Buffer.from(body);
  const chunks = [b.subarray(0, cut), b.subarray(cut)];
  return text(Readable.from(chunks).pipe(new JsonMaskStream(m, { holdChars: 64, maxTokenChars: 1 << 20 })));
}

describe("must-allow: public API responses come back byte for byte", () => {
  for (const [rulesName, rules] of RULE_SETS) {
    it.each(MUST_ALLOW)(`%s (${rulesName})`, async (_name, doc) => {
      for (const body of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) {
        expect(masker(rules).maskJsonText(body)).toBe(body);
        for (const cut of [1, Math.floor(body.length / 3), body.length - 1]) expect(await stream(masker(rules), body, cut)).toBe(body);
      }
    });
  }
});

describe("must-mask alongside: only the PII changes", () => {
  it("a GitHub commit's author email, under field rules", () => {
    const body = JSON.stringify(GITHUB_COMMIT);
    expect(masker(FIELDS).maskJsonText(body)).toBe(body.replace('"support@github.com"', '"***@github.com"'));
  });

  it("a Stripe customer list's email and phone, under field rules", () => {
    const body = JSON.stringify(STRIPE_LIST);
    expect(masker(FIELDS).maskJsonText(body)).toBe(body.replace('"jennyrosen@example.com"', '"***@example.com"').replace('"+15555550123"', `"${REDACTED}"`));
  });

  it("an id_token's email in a token response, under field rules", () => {
    const id = `${jwtPart({ alg: "none" })}.${jwtPart({ sub: "248289761001", email: "jane@example.com", email_verified: true })}.`;
    const out = JSON.parse(masker(FIELDS).maskJsonText(JSON.stringify({ ...OAUTH, id_token: id })));
    expect(out.access_token).toBe(OAUTH.access_token);
    expect(Buffer.from(out.id_token.split(".")[1], "base64url").toString()).toContain('"email":"***@example.com"');
  });

  it("a Buffer holding a record, under field rules", () => {
    const inner = JSON.stringify({ email: "bob@example.com", ssn: "123-45-6789" });
    const out = JSON.parse(masker(FIELDS).maskJsonText(JSON.stringify({ type: "Buffer", data: [...Buffer.from(inner)] })));
    expect(Buffer.from(out.data).toString()).toBe(JSON.stringify({ email: "***@example.com", ssn: REDACTED }));
  });
});

// MCP tool results carry the upstream's JSON as text (one level), so what an API answers at two levels
// (a file's content in base64, a token's claims) sits at the limit of what regate decodes.
const mcp = (o: unknown): string => JSON.stringify({ jsonrpc: "2.0", id: 4, result: { content: [{ type: "text", text: JSON.stringify(o, null, 2) }], isError: false } });

describe("must-allow: byte values at the deepest level regate reads", () => {
  const colorsFile = { type: "file", encoding: "base64", name: "colors.json", sha: "3d21ec53a331a6f037a91c368710b99387d012c1", content: b64(JSON.stringify({ primary: [255, 87, 34, 255], bg: [18, 18, 18, 255] }, null, 2)) };
  const token = { access_token: `${jwtPart({ alg: "RS256" })}.${jwtPart({ sub: "u1", scope: "read", ver: [1, 0, 2, 7] })}.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtbm90LXJlYWw`, token_type: "Bearer", expires_in: 3600 };
  for (const [rulesName, rules] of RULE_SETS) {
    it.each([
      ["a JSON file from GitHub's contents API in a tool result", colorsFile],
      ["a token response whose claims hold small integers, in a tool result", token],
    ])(`%s passes (${rulesName})`, async (_name, doc) => {
      const body = mcp(doc);
      expect(masker(rules).maskJsonText(body)).toBe(body);
      expect(await stream(masker(rules), body, 40)).toBe(body);
    });
  }

  it("must mask: text in bytes there is still read by detectors, and JSON in it still refused", () => {
    const note = { content: b64(JSON.stringify({ note: [...Buffer.from("ssn 123-45-6789")] })) };
    expect(masker(DETECTORS).maskJsonText(mcp(note))).not.toBe(mcp(note));
    const decoded = JSON.parse(JSON.parse(masker(DETECTORS).maskJsonText(mcp(note))).result.content[0].text);
    expect(Buffer.from(JSON.parse(Buffer.from(decoded.content, "base64").toString()).note).toString()).toBe(`ssn ${REDACTED}`);
    const record = { content: b64(JSON.stringify({ row: [...Buffer.from(JSON.stringify({ ssn: "123-45-6789" }))] })) };
    for (const [, rules] of RULE_SETS) expect(() => masker(rules).maskJsonText(mcp(record))).toThrow(/deeper than regate masks/);
  });
});

// Integers 48-57 read as bytes are digits, and 13-19 of them passing Luhn were a card to the detector: a
// series of Fahrenheit readings came back as 42s (the "*" the mask writes). An array of digits only is read
// as the numbers it holds; a Buffer's object form still as text.
describe("must-allow (detectors): a small-integer series that would read as digits", () => {
  it("hourly temperatures that spell a Luhn-valid number pass, whole and streamed", async () => {
    const body = JSON.stringify({ hourly_f: [52, 53, 54, 55, 56, 56, 57, 57, 57, 56, 55, 54, 53, 52, 51, 53] });
    expect(masker(DETECTORS).maskJsonText(body)).toBe(body);
    expect(await stream(masker(DETECTORS), body, 7)).toBe(body);
  });

  it("must mask: the same digits as a Buffer's object form, and an SSN's bytes in an array", () => {
    const digits = [52, 53, 54, 55, 56, 56, 57, 57, 57, 56, 55, 54, 53, 52, 51, 53];
    const asObject = JSON.stringify({ v: Object.fromEntries(digits.map((d, i) => [String(i), d])) });
    expect(masker(DETECTORS).maskJsonText(asObject)).not.toBe(asObject);
    const ssn = JSON.stringify({ v: [...Buffer.from("ssn 123-45-6789")] });
    expect(masker(DETECTORS).maskJsonText(ssn)).not.toBe(ssn);
  });
});

describe("must-allow: Python JSON", () => {
  it("NaN and Infinity in a metrics answer pass as written", async () => {
    const body = '{"loss": NaN, "best": Infinity, "worst": -Infinity, "steps": [1, 2, 3, 4, 5], "run": "4f1c9e2a"}';
    for (const [, rules] of RULE_SETS) {
      expect(masker(rules).maskJsonText(body)).toBe(body);
      expect(await stream(masker(rules), body, 9)).toBe(body);
    }
  });
});

async function sse(rules: MaskRule[], body: string): Promise<string> {
  const m = masker(rules);
  return text(Readable.from([Buffer.from(body)]).pipe(new SseMasker((d) => m.maskEventData(d), 1 << 20)));
}

describe("must-allow: event streams", () => {
  const chunk = (delta: object, finish: string | null = null): string =>
    `data: ${JSON.stringify({ id: "chatcmpl-8mcLrHz0tkEXSBLKlCPJZpASeQ0gY", object: "chat.completion.chunk", created: 1706653767, model: "gpt-4o", system_fingerprint: "fp_44709d6fcb", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const OPENAI_STREAM = chunk({ role: "assistant", content: "" }) + chunk({ content: "Hello" }) + chunk({ content: " there" }) + chunk({}, "stop") + "data: [DONE]\n\n";
  const ANTHROPIC_STREAM =
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4","usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
    "event: ping\ndata: {\"type\": \"ping\"}\n\n" +
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n' +
    'event: message_stop\ndata: {"type":"message_stop"}\n\n';
  const GITHUB_LIKE = ": ping\n\nid: 1715000000000-0\nevent: update\nretry: 3000\ndata: {\"sha\":\"6dcb09b5b57875f334f61aebed695e2e4193db5e\",\"n\":[72,101,108,108,111]}\n\n";
  const MCP = 'event: message\nid: d055efc3-3d86-4322-9401-814896b0a5d3_1\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_customer","inputSchema":{"type":"object","properties":{"email":{"type":"string"},"ssn":{"type":"string"}}}}]}}\n\n';

  for (const [rulesName, rules] of RULE_SETS) {
    it.each([
      ["OpenAI chat completion stream", OPENAI_STREAM],
      ["Anthropic messages stream", ANTHROPIC_STREAM],
      ["ids, retry, comments", GITHUB_LIKE],
      ["an MCP tools/list event", MCP],
      // Breaks Python's splitlines() honours, raw inside a JSON string (JSON.stringify leaves them so).
      ...["\u2028", "\u2029", "\u0085", "\u000b"].map((ch) => [`a delta holding ${JSON.stringify(ch)}`, chunk({ content: `first${ch}second` })]),
    ])(`%s (${rulesName})`, async (_name, body) => {
      expect(await sse(rules, body)).toBe(body);
    });
  }
});

describe("must-allow: text bodies under detectors", () => {
  it("a log with hashes, ids, a token without PII and a thumbnail passes", () => {
    const log = [
      `2024-05-01T10:00:00Z INFO deploy sha=6dcb09b5b57875f334f61aebed695e2e4193db5e image=nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31`,
      `2024-05-01T10:00:01Z INFO auth Authorization: Bearer ${OAUTH.access_token}`,
      `2024-05-01T10:00:02Z INFO pod uid=d055efc3-3d86-4322-9401-814896b0a5d3 rv=91827364 cursor=${SLACK_HISTORY.response_metadata.next_cursor}`,
      `thumbnail: ${PNG}`,
      "",
    ].join("\n");
    expect(masker(DETECTORS).maskPlainText(log)).toBe(log);
  });
});

describe("must-allow: response headers", () => {
  it.each(RULE_SETS)("ETags, links, request ids and rate limits are kept (%s)", (_name, rules) => {
    const headers = {
      etag: '"33a64df551425fcc55e4d42a148795d9f25f89d4"',
      link: `<https://api.github.com/repositories/1296269/issues?page=2&after=${b64("cursor:v2:1296269")}>; rel="next"`,
      "x-request-id": "req_8mcLrHz0tkEXSBLKlCPJZpASeQ0gY",
      "x-github-request-id": "CF2A:6F3B:2F3B1E4:30C5C2A:663A1B2C",
      "x-ratelimit-remaining": "4999",
      "openai-organization": "org-abc123",
      "content-type": "application/json; charset=utf-8",
      location: `https://app.example.com/cb?code=${b64url("auth-code-2024-05-01-xyz")}&state=af0ifjsldkj`,
    };
    const copy = { ...headers };
    expect(maskResponseHeaders(copy, masker(rules))).toBe(0);
    expect(copy).toEqual(headers);
  });
});
