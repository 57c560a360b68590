import { serialize } from "pg-protocol";
import { describe, expect, it } from "vitest";
import { BODY, FrameReader, type Frame } from "./frame-reader.js";
import { decodeBind, decodeExecute, decodeParse, decodeQuery, decodeStartup, decodeTarget } from "./frontend.js";

const batch = Buffer.concat([
  serialize.parse({ name: "s1", text: "SELECT $1::int, 'é'", types: [23] }),
  serialize.bind({ portal: "", statement: "s1", values: ["42", null, Buffer.from([1, 2])] }),
  serialize.describe({ type: "P", name: "" }),
  serialize.execute({ portal: "", rows: 0 }),
  serialize.sync(),
  serialize.query("SELECT 1; SELECT 2"),
]);

function frames(chunks: Buffer[]): { type: number; raw: string; body: string }[] {
  const reader = new FrameReader(1 << 20);
  const out: { type: number; raw: string; body: string }[] = [];
  // The body view is made when asked for: it must be the raw bytes after the type and length.
  for (const c of chunks) reader.push(c, (f: Frame) => void out.push({ type: f.type, raw: f.raw.toString("hex"), body: f.body.toString("hex") }));
  expect(reader.buffered).toBe(0);
  return out;
}

describe("FrameReader", () => {
  const whole = frames([batch]);

  it("frames a pipelined batch", () => {
    expect(whole.map((f) => String.fromCharCode(f.type)).join("")).toBe("PBDESQ");
    for (const f of whole) expect(f.body).toBe(f.raw.slice(BODY * 2));
  });

  it("gives the same frames for every split point", () => {
    for (let i = 1; i < batch.length; i++) {
      expect(frames([batch.subarray(0, i), batch.subarray(i)])).toEqual(whole);
    }
  });

  it("gives the same frames when fed one byte at a time", () => {
    expect(frames([...batch].map((b) => Buffer.from([b])))).toEqual(whole);
  });

  it("refuses lengths below 4 and above the cap", () => {
    const r = new FrameReader(100);
    expect(() => r.push(Buffer.from([0x51, 0, 0, 0, 3]), () => undefined)).toThrow(/invalid message length 3/);
    const r2 = new FrameReader(100);
    expect(() => r2.push(Buffer.from([0x51, 0, 0, 1, 0]), () => undefined)).toThrow(/limit 100/);
  });

  it("reads startup packets without a type byte", () => {
    const r = new FrameReader(1 << 20, true);
    const got: Frame[] = [];
    r.push(serialize.startup({ user: "agent", database: "db" }), (f) => void got.push(f));
    const pkt = decodeStartup(got[0]!.body);
    expect(pkt.kind).toBe("startup");
    if (pkt.kind === "startup") expect(Object.fromEntries(pkt.params)).toEqual({ user: "agent", database: "db", client_encoding: "UTF8" });
  });
});

describe("frontend decoders", () => {
  const parts: Frame[] = [];
  new FrameReader(1 << 20).push(batch, (f) => void parts.push(f));

  it("decode Parse, Bind (NULL distinct from empty), Describe, Execute, Query", () => {
    expect(decodeParse(parts[0]!.body)).toEqual({ name: "s1", sql: "SELECT $1::int, 'é'", paramTypes: [23] });
    const bind = decodeBind(parts[1]!.body);
    expect(bind.statement).toBe("s1");
    expect(bind.params.map((p) => (p === null ? null : p.toString("hex")))).toEqual([Buffer.from("42").toString("hex"), null, "0102"]);
    expect(bind.paramFormats).toEqual([0, 0, 1]);
    expect(decodeTarget(parts[2]!.body)).toEqual({ kind: "P", name: "" });
    expect(decodeExecute(parts[3]!.body)).toEqual({ portal: "", maxRows: 0 });
    expect(decodeQuery(parts[5]!.body)).toBe("SELECT 1; SELECT 2");
  });

  it("decode the same from the whole message, reading from BODY", () => {
    expect(decodeParse(parts[0]!.raw, BODY)).toEqual(decodeParse(parts[0]!.body));
    expect(decodeBind(parts[1]!.raw, BODY)).toEqual(decodeBind(parts[1]!.body));
    expect(decodeTarget(parts[2]!.raw, BODY)).toEqual({ kind: "P", name: "" });
    expect(decodeExecute(parts[3]!.raw, BODY)).toEqual({ portal: "", maxRows: 0 });
    expect(decodeQuery(parts[5]!.raw, BODY)).toBe("SELECT 1; SELECT 2");
    // The message's end is the body's: a short message is still refused.
    expect(() => decodeExecute(parts[3]!.raw.subarray(0, parts[3]!.raw.length - 1), BODY)).toThrow(/shorter than its fields/);
  });

  it("rejects truncated bodies with a protocol error", () => {
    expect(() => decodeBind(parts[1]!.body.subarray(0, 10))).toThrow(/shorter than its fields|unterminated/);
    expect(() => decodeParse(Buffer.from("abc"))).toThrow(/unterminated string/);
  });
});
