import { deflateSync, gzipSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { RegateError } from "../errors.js";
import { maskTextBytes, textLike } from "./encoded-bytes.js";

const SSN = "123-45-6789";
const hide = (text: string): string => text.replaceAll(SSN, "****");
const be = (s: string): Buffer => Buffer.from(s, "utf16le").swap16();
const PDF = Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "latin1");
const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000010", "hex");

describe("maskTextBytes", () => {
  it.each([
    ["UTF-8", Buffer.from(`ssn ${SSN}`), (b: Buffer) => b.toString()],
    ["UTF-16LE, no BOM", Buffer.from(`ssn ${SSN}`, "utf16le"), (b: Buffer) => b.toString("utf16le")],
    ["UTF-16BE, no BOM", be(`ssn ${SSN}`), (b: Buffer) => Buffer.from(b).swap16().toString("utf16le")],
    ["UTF-16LE with BOM and an odd last byte", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`ssn ${SSN}`, "utf16le"), Buffer.from([0x41])]), (b: Buffer) => b.subarray(2, -1).toString("utf16le")],
    ["zlib of UTF-8", deflateSync(`ssn ${SSN}`), (b: Buffer) => inflateSync(b).toString()],
  ])("masks %s and writes it back in the same form", (_name, bytes, read) => {
    const out = maskTextBytes(bytes, hide);
    expect(out).toBeInstanceOf(Buffer);
    expect(read(out!)).toBe("ssn ****");
  });

  it("keeps a UTF-16 text's odd last byte", () => {
    const bytes = Buffer.concat([Buffer.from(`ssn ${SSN}`, "utf16le"), Buffer.from([0x41])]);
    expect(maskTextBytes(bytes, hide)!.at(-1)).toBe(0x41);
  });

  it.each([
    ["a PNG", PNG],
    ["a PDF", PDF],
    ["a fake gzip header", Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff])],
    ["gzip of binary", gzipSync(Buffer.from(Array.from({ length: 600 }, (_v, i) => (i * 31) % 256)))],
    ["16-bit samples", Buffer.from([0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00])],
  ])("leaves %s alone", (_name, bytes) => {
    expect(maskTextBytes(bytes, hide)).toBeUndefined();
  });

  it("returns the same bytes when nothing changes, and refuses text compressed three times", () => {
    const plain = gzipSync("nothing here");
    expect(maskTextBytes(plain, hide)).toBe(plain);
    expect(() => maskTextBytes(gzipSync(gzipSync(gzipSync(SSN))), hide)).toThrow(RegateError);
  });
});

describe("textLike", () => {
  it.each([
    ["UTF-8 cut mid-character", Buffer.from("caf\u00e9").subarray(0, 4), true],
    ["UTF-16LE", Buffer.from("hello there", "utf16le"), true],
    ["gzip of text", gzipSync("hello there"), true],
    ["a PNG", PNG, false],
    ["a PDF", PDF, false],
  ])("%s: %s", (_name, bytes, expected) => {
    expect(textLike(bytes)).toBe(expected);
  });
});
