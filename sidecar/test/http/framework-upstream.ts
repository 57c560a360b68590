// An upstream that reads request bodies the way widely used frameworks and JSON libraries do, where they read
// more (or otherwise) than JSON.parse: it records the JSON-RPC call it executed. Each path prefix is one reader:
//   /first    the first of two equal keys wins: Go's gjson and buger/jsonparser, simdjson's find_field,
//             Erlang's jiffy (proplists), Gson into a Map throws; JSON.parse, Go and Python keep the last
//   /lenient  JSON whatever the Content-Type, read leniently: Starlette's request.json() and FastAPI without a
//             type, Flask's get_json(force=True) (Python's json: NaN, Infinity), Gson.fromJson and Json.NET
//             (comments, single quotes, trailing commas, a ")]}'" prefix), Ruby's JSON (comments)
//   /charset  the body decoded with its declared charset before parsing: Django sets request.encoding from
//             it and Django REST framework's JSONParser decodes with it (UTF-7, Shift_JIS, ...)
//   /any      Express's express.json() or a Go handler: the body is read on every method, GET included
//   /decimal  JSON numbers kept exact (Python's json with parse_float=Decimal, Go's json.Number, Jackson's
//             BigDecimal): records the amount as written
//   /rack     the query as Rack 2 (Rails up to 7.0) reads it: parameters split at "&" and ";", the last wins

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import iconv from "iconv-lite";
import { closeServer, listen } from "./fixtures.js";

export interface Call {
  reader: string;
  method: string;
  tool?: string;
  /** Headers and trailers as received (Node keeps trailers apart; some servers merge them into the headers). */
  headers?: IncomingMessage["headers"];
  trailers?: IncomingMessage["trailers"];
  /** /decimal: the amount as the upstream compares it. */
  amount?: string;
  /** /rack: the query parameters it read. */
  query?: Record<string, string>;
}

/** A query as Rack 2's parse_query(qs, "&;") reads it: the last value of a name wins. */
function rackQuery(url: string): Record<string, string> {
  const q = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
  const out: Record<string, string> = {};
  for (const piece of q.split(/[&;] */)) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const dec = (x: string): string => decodeURIComponent(x.replace(/\+/g, " "));
    out[dec(eq < 0 ? piece : piece.slice(0, eq))] = eq < 0 ? "" : dec(piece.slice(eq + 1));
  }
  return out;
}

export interface FrameworkUpstream {
  url: string;
  calls: Call[];
  close(): Promise<void>;
}

/** A JSON reader that keeps the first of two equal keys (jsonparser, gjson, simdjson, jiffy). */
export function parseFirstWins(text: string): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") return i++, o;
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        i++; // ":"
        const v = value();
        if (!Object.prototype.hasOwnProperty.call(o, k)) o[k] = v;
        ws();
        if (text[i++] === "}") return o;
      }
    }
    if (c === "[") {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === "]") return i++, a;
      for (;;) {
        a.push(value());
        ws();
        if (text[i++] === "]") return a;
      }
    }
    // A scalar: JSON.parse reads it, from its start to the first structural character outside a string.
    const m = /^(?:"(?:[^"\\]|\\.)*"|[^,\]}\s]+)/.exec(text.slice(i))!;
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  return value();
}

/** Python's json (NaN, Infinity), Gson and Json.NET (comments, single quotes, trailing commas, ")]}'"). */
export function parseLenient(text: string): unknown {
  const t = text
    .replace(/^\)\]\}'\n?/, "")
    .replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|#[^\n]*/g, "")
    .replace(/'/g, '"')
    .replace(/-?\b(?:Infinity|NaN)\b/g, "null")
    .replace(/,\s*([}\]])/g, "$1");
  return JSON.parse(t) as unknown;
}

function charsetOf(contentType: string | undefined): string {
  return /charset\s*=\s*"?([^";,\s]+)/i.exec(contentType ?? "")?.[1] ?? "utf-8";
}

function read(reader: string, req: IncomingMessage, raw: Buffer): unknown {
  switch (reader) {
    case "first":
      return parseFirstWins(raw.toString("utf8"));
    case "lenient":
      return parseLenient(raw.toString("utf8"));
    case "charset":
      return JSON.parse(iconv.decode(raw, charsetOf(req.headers["content-type"]))) as unknown;
    default:
      return JSON.parse(raw.toString("utf8")) as unknown;
  }
}

export async function startFrameworkUpstream(): Promise<FrameworkUpstream> {
  const calls: Call[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const reader = (req.url ?? "/").split("/")[1]!.split("?")[0]!;
      if (reader === "rack") {
        calls.push({ reader, method: req.method ?? "", query: rackQuery(req.url ?? "") });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      let body: unknown;
      try {
        body = read(reader, req, Buffer.concat(chunks));
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":"unreadable"}');
        return;
      }
      if (reader === "decimal") {
        calls.push({ reader, method: req.method ?? "", amount: /"amount"\s*:\s*([-0-9.eE+]+)/.exec(Buffer.concat(chunks).toString())?.[1] ?? "" });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      const rpc = (body ?? {}) as { method?: unknown; params?: { name?: unknown } };
      const call: Call = { reader, method: req.method ?? "", headers: req.headers, trailers: req.trailers };
      if (rpc.method === "tools/call" && typeof rpc.params?.name === "string") call.tool = rpc.params.name;
      calls.push(call);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ executed: call.tool ?? null }));
    });
  });
  const url = await listen(server);
  return { url, calls, close: () => closeServer(server) };
}
