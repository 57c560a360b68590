import { BodyReader } from "./body-reader.js";
import { Backend } from "./codes.js";

/** Builds one message: type byte, int32 length, body. */
export function message(type: number, body: Buffer = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const EMPTY = Buffer.alloc(0);

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
}

/** ErrorResponse / NoticeResponse fields, by their one-letter codes (S V C M D H P ...). */
export type NoticeFields = Record<string, string>;

export function encodeNotice(type: typeof Backend.ErrorResponse | typeof Backend.NoticeResponse, fields: NoticeFields): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of Object.entries(fields)) {
    // A NUL inside a field would end it early on the client: strip it.
    parts.push(Buffer.from(code, "latin1"), cstr(value.replace(/\0/g, "")));
  }
  parts.push(Buffer.from([0]));
  return message(type, Buffer.concat(parts));
}

export function errorResponse(sqlstate: string, msg: string, extra: { detail?: string; hint?: string; severity?: "ERROR" | "FATAL" } = {}): Buffer {
  const severity = extra.severity ?? "ERROR";
  const fields: NoticeFields = { S: severity, V: severity, C: sqlstate, M: msg };
  if (extra.detail) fields["D"] = extra.detail;
  if (extra.hint) fields["H"] = extra.hint;
  return encodeNotice(Backend.ErrorResponse, fields);
}

export function decodeNotice(body: Buffer): NoticeFields {
  const r = new BodyReader(body);
  const fields: NoticeFields = {};
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    fields[String.fromCharCode(code)] = r.cstring();
  }
  return fields;
}

export function readyForQuery(status: number): Buffer {
  return message(Backend.ReadyForQuery, Buffer.from([status]));
}

export function parameterStatus(name: string, value: string): Buffer {
  return message(Backend.ParameterStatus, Buffer.concat([cstr(name), cstr(value)]));
}

export function decodeParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BodyReader(body);
  return { name: r.cstring(), value: r.cstring() };
}

export function backendKeyData(pid: number, key: Buffer): Buffer {
  return message(Backend.BackendKeyData, Buffer.concat([int32(pid), key]));
}

export function decodeBackendKeyData(body: Buffer): { pid: number; key: Buffer } {
  const r = new BodyReader(body);
  const pid = r.int32();
  return { pid, key: Buffer.from(r.rest()) };
}

export function authentication(code: number, data: Buffer = EMPTY): Buffer {
  return message(Backend.Authentication, Buffer.concat([int32(code), data]));
}

export function authenticationSasl(mechanisms: string[]): Buffer {
  return authentication(10, Buffer.concat([...mechanisms.map(cstr), Buffer.from([0])]));
}

export function decodeAuthentication(body: Buffer): { code: number; data: Buffer } {
  const r = new BodyReader(body);
  return { code: r.int32(), data: r.rest() };
}

export function negotiateProtocolVersion(minor: number, unsupported: string[]): Buffer {
  return message(Backend.NegotiateProtocolVersion, Buffer.concat([int32((3 << 16) | minor), int32(unsupported.length), ...unsupported.map(cstr)]));
}

export interface FieldDescription {
  name: string;
  tableOid: number;
  attnum: number;
  typeOid: number;
  typlen: number;
  typmod: number;
  format: number;
}

export function decodeRowDescription(body: Buffer, start = 0): FieldDescription[] {
  const r = new BodyReader(body, start);
  const n = r.int16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    fields.push({
      name: r.cstring(),
      tableOid: r.uint32(),
      attnum: r.int16(),
      typeOid: r.uint32(),
      typlen: r.int16(),
      typmod: r.int32(),
      format: r.int16(),
    });
  }
  return fields;
}

export function encodeRowDescription(fields: FieldDescription[]): Buffer {
  const parts: Buffer[] = [Buffer.from([fields.length >> 8, fields.length & 0xff])];
  for (const f of fields) {
    const tail = Buffer.allocUnsafe(18);
    tail.writeUInt32BE(f.tableOid, 0);
    tail.writeInt16BE(f.attnum, 4);
    tail.writeUInt32BE(f.typeOid, 6);
    tail.writeInt16BE(f.typlen, 10);
    tail.writeInt32BE(f.typmod, 12);
    tail.writeInt16BE(f.format, 16);
    parts.push(cstr(f.name), tail);
  }
  return message(Backend.RowDescription, Buffer.concat(parts));
}

export function decodeParameterDescription(body: Buffer): number[] {
  const r = new BodyReader(body);
  const n = r.int16();
  const oids: number[] = [];
  for (let i = 0; i < n; i++) oids.push(r.uint32());
  return oids;
}

export function decodeCommandTag(body: Buffer, start = 0): string {
  return new BodyReader(body, start).cstring();
}

export function readyStatus(body: Buffer, start = 0): number {
  return new BodyReader(body, start).byte();
}
