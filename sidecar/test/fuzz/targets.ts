// Fuzz targets: each turns one input into calls of a decoder or masker and throws a Finding when a
// property breaks (a crash other than the module's own error, split-point disagreement, invalid output).
import { readdirSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { serialize } from "pg-protocol";
import { RegateError } from "../../src/errors.js";
import * as P from "../../src/postgres/protocol/index.js";
import { screenStartupParams } from "../../src/postgres/startup-params.js";
import { analyze, fingerprint, initSqlParser } from "../../src/postgres/sql/index.js";
import { literalTemplate } from "../../src/postgres/sql/template.js";
import { ResponseMasker } from "../../src/http/masker.js";
import { SseMasker } from "../../src/http/sse-mask.js";
import { parseRequestBody } from "../../src/http/request-body-facts.js";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** A broken property. `kind` is part of the dedup key. */
export class Finding extends Error {
  constructor(
    readonly kind: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "Finding";
  }
}

export interface Target {
  name: string;
  seeds: Buffer[];
  tokens?: Buffer[];
  maxLength: number;
  check(input: Buffer): void | Promise<void>;
}

/** Runs fn; any error other than the allowed classes is a finding. Returns the error it allowed, if any. */
function only(fn: () => void, ...allowed: (new (...a: never[]) => Error)[]): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof Finding) throw err;
    if (allowed.some((c) => err instanceof c)) return err as Error;
    throw new Finding("crash", `${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

const cstr = (s: string) => Buffer.from(`${s}\0`);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Frames `input` in one push and, when given, at split points; the outcomes must agree. */
function frameAll(input: Buffer, startup: boolean, splits: number[]): P.Frame[] {
  const run = (cuts: number[]) => {
    const r = new P.FrameReader(1 << 20, startup);
    const frames: string[] = [];
    let error: string | undefined;
    let last = 0;
    const out: P.Frame[] = [];
    const err = only(() => {
      for (const cut of [...cuts, input.length]) {
        // A fresh copy per chunk: frames must not depend on the caller keeping chunk memory alive.
        r.push(Buffer.from(input.subarray(last, cut)), (f) => {
          frames.push(f.raw.toString("hex"));
          out.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
          // The startup packet is alone in its phase: after it, regular messages follow.
          if (startup) r.endStartupPhase();
        });
        last = cut;
      }
    }, RegateError);
    if (err) error = (err as RegateError).code;
    // After an error the connection is closed: what stayed buffered then does not matter.
    return { key: `${frames.join(",")}|${error ?? `buffered ${r.buffered}`}`, out };
  };
  const whole = run([]);
  for (const s of splits) {
    const split = run([s]);
    if (split.key !== whole.key) throw new Finding("split", `framing differs when split at byte ${s}`);
  }
  return whole.out;
}

function splitPoints(len: number): number[] {
  if (len <= 96) return Array.from({ length: Math.max(0, len - 1) }, (_, i) => i + 1);
  return Array.from({ length: 12 }, (_, i) => Math.max(1, Math.floor(((i + 1) * len) / 13)));
}

/** Chunks real drivers and PostgreSQL exchanged (capture-seeds.ts), by direction, from every client captured. */
export function capturedSeeds(kind: "startup" | "frontend" | "backend"): Buffer[] {
  const dir = `${ROOT}testdata/fuzz/seeds/`;
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  } catch {
    return [];
  }
  return files.flatMap((f) => ((JSON.parse(readFileSync(dir + f, "utf8")) as Record<string, string[]>)[kind] ?? []).map((h) => Buffer.from(h, "hex")));
}

const F = P.Frontend;
const frontend: Target = {
  name: "pg-frontend",
  maxLength: 4096,
  seeds: [
    serialize.query("SELECT 1"),
    serialize.query("select id, email from customers where id = 3; update t set a = 1"),
    serialize.parse({ name: "s1", text: "SELECT $1::int, $2::text", types: [23, 25] }),
    serialize.parse({ text: "insert into t values ($1)" }),
    serialize.bind({ portal: "p", statement: "s1", values: ["1", null, "x", Buffer.from([0, 1, 2])] }),
    serialize.bind({ binary: true, values: [Buffer.from([0, 0, 0, 7])] }),
    serialize.bind({}),
    serialize.describe({ type: "S", name: "s1" }),
    serialize.describe({ type: "P" }),
    serialize.close({ type: "S", name: "s1" }),
    serialize.execute({ portal: "p", rows: 10 }),
    serialize.execute(),
    serialize.sync(),
    serialize.flush(),
    serialize.end(),
    serialize.password("secret"),
    serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", "n,,n=,r=abcdef"),
    serialize.sendSCRAMClientFinalMessage("c=biws,r=abcdef,p=xyz"),
    serialize.copyData(Buffer.from("1\tx\n")),
    serialize.copyDone(),
    serialize.copyFail("stop"),
    Buffer.concat([Buffer.from([F.FunctionCall]), i32(8), i32(1234)]),
    ...capturedSeeds("frontend"),
  ],
  check(input) {
    for (const f of frameAll(input, false, splitPoints(input.length))) only(() => decodeFrontend(f), RegateError);
  },
};

/** Decodes one frontend message with the decoder regate uses for its type; throws what the decoder throws. */
export function decodeFrontend(f: P.Frame): void {
  switch (f.type) {
    case F.Query:
      P.decodeQuery(f.body);
      break;
    case F.Parse:
      P.decodeParse(f.body);
      break;
    case F.Bind: {
      const b = P.decodeBind(f.body);
      if (b.params.length !== b.paramFormats.length) throw new Finding("bind", "params and formats differ in length");
      break;
    }
    case F.Describe:
    case F.Close:
      P.decodeTarget(f.body);
      break;
    case F.Execute:
      P.decodeExecute(f.body);
      break;
    case F.FunctionCall:
      P.decodeFunctionCall(f.body);
      break;
    case F.Password:
      // Password, SASLInitialResponse and SASLResponse share the type byte: try each reading.
      only(() => P.decodePassword(f.body), RegateError);
      only(() => P.decodeSaslInitial(f.body), RegateError);
      break;
  }
}

const B = P.Backend;
const dataRow = (vals: (string | null)[]) => {
  const parts = [i16(vals.length)];
  for (const v of vals) parts.push(v === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(v)), Buffer.from(v)]));
  return P.message(B.DataRow, Buffer.concat(parts));
};
const backend: Target = {
  name: "pg-backend",
  maxLength: 4096,
  seeds: [
    P.encodeRowDescription([
      { name: "id", tableOid: 16384, attnum: 1, typeOid: 23, typlen: 4, typmod: -1, format: 0 },
      { name: "email", tableOid: 16384, attnum: 2, typeOid: 25, typlen: -1, typmod: -1, format: 0 },
    ]),
    dataRow(["1", "alice@example.com"]),
    dataRow([null, ""]),
    dataRow([]),
    P.errorResponse("42501", "denied by policy", { detail: "d", hint: "h" }),
    P.encodeNotice(B.NoticeResponse, { S: "NOTICE", C: "00000", M: "hello" }),
    P.parameterStatus("search_path", '"$user", public'),
    P.backendKeyData(42, Buffer.from([1, 2, 3, 4])),
    P.authentication(0),
    P.authentication(5, Buffer.from([1, 2, 3, 4])),
    P.authenticationSasl(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]),
    P.readyForQuery(P.TransactionStatus.Idle),
    P.message(B.CommandComplete, cstr("SELECT 2")),
    P.message(B.ParameterDescription, Buffer.concat([i16(2), i32(23), i32(25)])),
    P.negotiateProtocolVersion(0, ["_pq_.x"]),
    ...capturedSeeds("backend"),
  ],
  check(input) {
    for (const f of frameAll(input, false, splitPoints(input.length))) only(() => decodeBackend(f), RegateError);
  },
};

/** Decodes one backend message as regate reads it (a DataRow: rewritten, identity and masked); throws what the decoder throws. */
export function decodeBackend(f: P.Frame): void {
  switch (f.type) {
    case B.RowDescription:
      P.decodeRowDescription(f.body);
      break;
    case B.ErrorResponse:
    case B.NoticeResponse:
      P.decodeNotice(f.body);
      break;
    case B.ParameterStatus:
      P.decodeParameterStatus(f.body);
      break;
    case B.BackendKeyData:
      P.decodeBackendKeyData(f.body);
      break;
    case B.Authentication:
      P.decodeAuthentication(f.body);
      break;
    case B.ParameterDescription:
      P.decodeParameterDescription(f.body);
      break;
    case B.CommandComplete:
      P.decodeCommandTag(f.body);
      break;
    case B.ReadyForQuery:
      P.readyStatus(f.body);
      break;
    case B.DataRow: {
      // Every value written back as it was: the row must come out byte for byte.
      const same = P.rewriteDataRow(f.raw, { has: () => true }, (_i, r, s, len) => (len < 0 ? null : r.subarray(s, s + len)));
      if (!same.equals(f.raw)) throw new Finding("datarow", "identity rewrite changed the row");
      const masked = P.rewriteDataRow(f.raw, { has: (i) => i % 2 === 0 }, (_i, _r, _s, len) => (len < 0 ? null : "***"));
      // A rewritten row is itself a well-formed DataRow.
      if (!P.rewriteDataRow(masked, { has: () => true }, () => undefined).equals(masked)) throw new Finding("datarow", "rewritten row does not read back");
      if (masked.readInt32BE(1) + 1 !== masked.length) throw new Finding("datarow", "rewritten row's length field is wrong");
      break;
    }
  }
}

const startup: Target = {
  name: "pg-startup",
  maxLength: 2048,
  seeds: [
    serialize.startup({ user: "agent", database: "app", application_name: "psql", client_encoding: "UTF8" }),
    serialize.startup({ user: "agent", options: "-c search_path=public -c statement_timeout=5s", client_encoding: "'utf-8'" }),
    serialize.startup({ user: "agent", replication: "database" }),
    serialize.startup({ user: "agent", _pq_: "x", "_pq_.command_ids": "1", DateStyle: "ISO, MDY" }),
    serialize.requestSsl(),
    serialize.cancel(1234, 5678),
    Buffer.concat([i32(8), i32(P.GSSENC_REQUEST)]),
    Buffer.concat([serialize.requestSsl(), serialize.startup({ user: "agent" })]),
    ...capturedSeeds("startup"),
  ],
  check(input) {
    // The startup phase frames the first packet without a type byte; frameAll ends the phase after it.
    for (const f of frameAll(input, true, splitPoints(input.length)).slice(0, 1)) {
      only(() => {
        const s = P.decodeStartup(f.body);
        if (s.kind === "startup") screenStartupParams(s.params);
      }, RegateError);
    }
  },
};

function goldenSql(): Buffer[] {
  const lines = readFileSync(`${ROOT}testdata/sql/golden.jsonl`, "utf8").split("\n").filter((l) => l.trim() !== "");
  return lines.map((l) => Buffer.from((JSON.parse(l) as { sql: string }).sql));
}
const SQL_TOKENS = [
  "select ", " from ", " where ", "(", ")", ",", ";", "'", '"', "$1", "::", "with x as (", " union all ", "$$", "$a$",
  "/*", "*/", "--", "\n", " join ", " lateral ", "insert into t ", "update t set a=", "delete from t", "returning *",
  "copy t from stdin", "set search_path = ", "prepare p as ", "execute p", "declare c cursor for ", "fetch c",
  "E'\\x'", "U&'\\0041'", "*", "values (1)", "do $$ begin end $$", "call f()", "explain analyze ",
].map((t) => Buffer.from(t));
const sql: Target = {
  name: "sql-analyze",
  maxLength: 2048,
  seeds: [],
  tokens: SQL_TOKENS,
  check(input) {
    const text = input.toString("utf8");
    only(() => {
      const a = analyze(text, SQL_CTX);
      fingerprint(text);
      sharedTemplateHolds(text, a);
    }, RegateError);
  },
};

const SQL_CTX = { searchPath: ["public"], user: "agent", prepared: new Map() };
const factsJson = (a: ReturnType<typeof analyze>) => JSON.stringify(a.statements.map(({ sql: _s, ...rest }) => rest));

/**
 * The template property lifecycle/analyse.ts relies on (template.ts): when a statement's facts equal its
 * template's, a statement of the same template with other constants has the same facts.
 */
function sharedTemplateHolds(text: string, a: ReturnType<typeof analyze>): void {
  const t = literalTemplate(text);
  if (!t || a.parse_error !== undefined || a.statements.length !== 1) return;
  const own = factsJson(a);
  const ofTemplate = analyze(t.text, SQL_CTX);
  if (ofTemplate.parse_error !== undefined || factsJson(ofTemplate) !== own) return;
  const variant = t.text.replace(/(?<![A-Za-z0-9_$])\$(\d+)/g, (_m, d: string) => (t.kinds[Number(d) - 1] === "n" ? "7" : "'internal.api_keys'"));
  const b = analyze(variant, SQL_CTX);
  if (b.parse_error === undefined && factsJson(b) !== own) throw new Finding("template", `a statement of a shared template has other facts: ${variant.slice(0, 200)}`);
}

const JSON_SEEDS = [
  { id: 1, name: "Alice Smith", email: "alice@example.com", phone: "(415) 555-2671", ssn: "123-45-6789" },
  { data: [{ card_number: "4111 1111 1111 1111", note: "backup card 5500-0000-0000-0004" }], next: null, big: 12345678901234567890 },
  { jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: '{"email":"bob@example.org"}' }] } },
  ["a", 1, true, null, { "e\\u006dail": "x@y.z", "k~/": [] }],
  "plain string with a@b.co",
  { AWS: "AKIAIOSFODNN7EXAMPLE", token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", iban: "DE89370400440532013000" },
].map((d) => Buffer.from(JSON.stringify(d)));
const JSON_TOKENS = ["{", "}", "[", "]", ":", ",", '"', "\\", "\\u00", "\\ud800", "1e999", "-0", "null", '"email":', "@", "é", "\u2028"].map((t) =>
  Buffer.from(t),
);
const maskers = [
  ResponseMasker.from([{ field: "email", strategy: "redact" }, { field: "/data/*/card_number", strategy: "partial" }], Buffer.from("k")),
  ResponseMasker.from([{ detector: "email", strategy: "hash" }, { detector: "card", strategy: "redact" }], Buffer.from("k")),
  ResponseMasker.from([{ field: "text", detector: "email", strategy: "partial" }, { detector: "secret", strategy: "null" }], Buffer.from("k")),
].map((m) => m!);
const masker: Target = {
  name: "http-json-mask",
  maxLength: 4096,
  seeds: JSON_SEEDS,
  tokens: JSON_TOKENS,
  check(input) {
    const t = input.toString("utf8");
    for (const m of maskers) {
      let out: string | undefined;
      only(() => {
        out = m.maskJsonText(t);
      }, RegateError, SyntaxError);
      if (out !== undefined) only(() => JSON.parse(out!));
      only(() => m.maskEventData(t), RegateError);
      only(() => m.maskPlainText(t), RegateError);
    }
  },
};

async function sseRun(chunks: Buffer[]): Promise<string> {
  const m = new SseMasker((d) => maskers[1]!.maskEventData(d), 2048);
  try {
    return `ok:${await text(Readable.from(chunks).pipe(m))}`;
  } catch (err) {
    if (err instanceof RegateError) return `error:${err.code}`;
    throw new Finding("crash", `${(err as Error).name}: ${(err as Error).message}`, { cause: err });
  }
}
const sse: Target = {
  name: "http-sse-mask",
  maxLength: 4096,
  seeds: [
    "data: hello\n\n",
    'event: message\ndata: {"email":"alice@example.com"}\nid: 1\n\n',
    "data: line one\r\ndata: line two a@b.co\r\n\r\n: comment\n\nretry: 10\n\n",
    "data: unterminated a@b.co",
  ].map((s) => Buffer.from(s)),
  tokens: ["\n", "\r", "\r\n", "\n\n", "data:", "event:", "id:", ": ", "é", "\ud83d\ude00", "a@b.co"].map((t) => Buffer.from(t)),
  async check(input) {
    const whole = await sseRun([input]);
    // Splits at every third byte, including inside multi-byte UTF-8 and between CR and LF.
    for (let s = 1; s < input.length; s += Math.max(1, Math.floor(input.length / 8))) {
      const split = await sseRun([input.subarray(0, s), input.subarray(s)]);
      if (split !== whole) throw new Finding("split", `SSE output differs when split at byte ${s}`);
    }
  },
};

// Byte 0 picks the request's content type and encoding; the rest is the body as sent.
const CTS = ["application/json", "application/x-www-form-urlencoded", "text/plain", undefined] as const;
const ENCS = [undefined, "gzip", "deflate", "br"] as const;
const ENCODE = [(b: Buffer) => b, gzipSync, deflateSync, brotliCompressSync];
const bodySeeds = (): Buffer[] => {
  const out: Buffer[] = [];
  const bodies = [JSON_SEEDS[0]!, JSON_SEEDS[2]!, Buffer.from("a=1&b=%20x&a=2&c"), Buffer.from("hello")];
  for (let c = 0; c < 4; c++) for (let e = 0; e < 4; e++) out.push(Buffer.concat([Buffer.from([c | (e << 2)]), ENCODE[e]!(bodies[c]!)]));
  return out;
};
const body: Target = {
  name: "http-body",
  maxLength: 4096,
  seeds: bodySeeds(),
  check(input) {
    if (input.length === 0) return;
    const sel = input[0]!;
    // parseRequestBody reports every failure in its result: nothing may throw.
    only(() => parseRequestBody(input.subarray(1), CTS[sel & 3], ENCS[(sel >> 2) & 3], 1024));
  },
};

let ready: Promise<void> | undefined;
/** All targets, with the SQL parser initialised and the SQL seeds loaded. */
export async function loadTargets(): Promise<Target[]> {
  ready ??= initSqlParser();
  await ready;
  if (sql.seeds.length === 0) sql.seeds = goldenSql();
  return [frontend, backend, startup, sql, masker, sse, body];
}
