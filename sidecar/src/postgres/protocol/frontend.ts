import { RegateError } from "../../errors.js";
import { BodyReader } from "./body-reader.js";
import { CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST } from "./codes.js";

export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; key: Buffer }
  | { kind: "startup"; major: number; minor: number; params: Map<string, string> };

export function decodeStartup(body: Buffer): StartupPacket {
  const r = new BodyReader(body);
  const code = r.int32();
  if (code === SSL_REQUEST) return r.end(), { kind: "ssl" };
  if (code === GSSENC_REQUEST) return r.end(), { kind: "gssenc" };
  if (code === CANCEL_REQUEST) {
    const pid = r.int32();
    const key = r.rest();
    if (key.length < 4 || key.length > 256) throw new RegateError("PROTOCOL_VIOLATION", "invalid cancel key length");
    return { kind: "cancel", pid, key };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) throw new RegateError("FEATURE_UNSUPPORTED", `unsupported frontend protocol ${major}.${minor}`);
  const params = new Map<string, string>();
  while (true) {
    const key = r.cstring();
    if (key === "") break;
    params.set(key, r.cstring());
  }
  r.end();
  return { kind: "startup", major, minor, params };
}

// The decoders below read a message body from `start`: 0 for a body, BODY (frame-reader.ts) for a whole message,
// which spares the frame its body view.
export function decodeQuery(body: Buffer, start = 0): string {
  const r = new BodyReader(body, start);
  const sql = r.cstring();
  r.end();
  return sql;
}

export interface ParseMessage {
  name: string;
  sql: string;
  paramTypes: number[];
}

export function decodeParse(body: Buffer, start = 0): ParseMessage {
  const r = new BodyReader(body, start);
  const name = r.cstring();
  const sql = r.cstring();
  const n = r.int16();
  if (n < 0) throw new RegateError("PROTOCOL_VIOLATION", "negative parameter type count");
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.uint32());
  r.end();
  return { name, sql, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** One entry per parameter (expanded from PostgreSQL's 0 / 1 / n format-code rule). 0 text, 1 binary. */
  paramFormats: number[];
  /** null is SQL NULL, distinct from an empty value. Views into the message. */
  params: (Buffer | null)[];
  /** As sent: [] = all text, [f] = all f, else per column. */
  resultFormats: number[];
}

export function decodeBind(body: Buffer, start = 0): BindMessage {
  const r = new BodyReader(body, start);
  const portal = r.cstring();
  const statement = r.cstring();
  const nf = r.int16();
  if (nf < 0) throw new RegateError("PROTOCOL_VIOLATION", "negative format count");
  const formats: number[] = [];
  for (let i = 0; i < nf; i++) formats.push(checkFormat(r.int16()));
  const np = r.int16();
  if (np < 0) throw new RegateError("PROTOCOL_VIOLATION", "negative parameter count");
  if (nf > 1 && nf !== np) throw new RegateError("PROTOCOL_VIOLATION", `bind has ${nf} format codes for ${np} parameters`);
  const params: (Buffer | null)[] = [];
  const paramFormats: number[] = [];
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    if (len < -1) throw new RegateError("PROTOCOL_VIOLATION", "invalid parameter length");
    params.push(len === -1 ? null : r.bytes(len));
    paramFormats.push(nf === 0 ? 0 : nf === 1 ? formats[0]! : formats[i]!);
  }
  const nr = r.int16();
  if (nr < 0) throw new RegateError("PROTOCOL_VIOLATION", "negative result format count");
  const resultFormats: number[] = [];
  for (let i = 0; i < nr; i++) resultFormats.push(checkFormat(r.int16()));
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

function checkFormat(f: number): number {
  if (f !== 0 && f !== 1) throw new RegateError("PROTOCOL_VIOLATION", `invalid format code ${f}`);
  return f;
}

/** Describe and Close: 'S' statement or 'P' portal, and a name. */
export function decodeTarget(body: Buffer, start = 0): { kind: "S" | "P"; name: string } {
  const r = new BodyReader(body, start);
  const k = r.byte();
  if (k !== 0x53 && k !== 0x50) throw new RegateError("PROTOCOL_VIOLATION", "Describe/Close target must be S or P");
  const name = r.cstring();
  r.end();
  return { kind: k === 0x53 ? "S" : "P", name };
}

export function decodeExecute(body: Buffer, start = 0): { portal: string; maxRows: number } {
  const r = new BodyReader(body, start);
  const portal = r.cstring();
  const maxRows = r.int32();
  r.end();
  return { portal, maxRows };
}

export function decodeFunctionCall(body: Buffer): { oid: number } {
  const r = new BodyReader(body);
  return { oid: r.uint32() };
}

/** PasswordMessage: a NUL-terminated string. */
export function decodePassword(body: Buffer): string {
  const r = new BodyReader(body);
  const pw = r.cstring();
  r.end();
  return pw;
}

export function decodeSaslInitial(body: Buffer): { mechanism: string; data: Buffer } {
  const r = new BodyReader(body);
  const mechanism = r.cstring();
  const len = r.int32();
  const data = len === -1 ? Buffer.alloc(0) : r.bytes(len);
  r.end();
  return { mechanism, data };
}
