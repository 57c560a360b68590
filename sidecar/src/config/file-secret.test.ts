import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileSecret } from "./file-secret.js";
import { loadConfig } from "./load.js";

const dir = mkdtempSync(join(tmpdir(), "regate-file-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("FileSecret", () => {
  it("follows its file: rewrite, rename over; keeps the last value while the file is missing or empty", () => {
    const file = join(dir, "a");
    writeFileSync(file, "one\n");
    const s = new FileSecret(file, "file a", "one");
    expect(s.reveal()).toBe("one");
    expect(s.changedAt).toBeUndefined();
    writeFileSync(file, "two-longer\n");
    expect(s.reveal()).toBe("two-longer");
    expect(s.changedAt).toBeInstanceOf(Date);
    rmSync(file);
    expect(s.reveal()).toBe("two-longer");
    writeFileSync(file, "");
    expect(s.reveal()).toBe("two-longer");
    writeFileSync(join(dir, "b"), "three\r\n");
    renameSync(join(dir, "b"), file);
    expect(s.reveal()).toBe("three");
    expect(JSON.stringify({ s })).toBe('{"s":"[secret from file a]"}');
  });

  it("is what loadConfig makes of a {file} secret", () => {
    const file = join(dir, "pw");
    writeFileSync(file, "first\n");
    const cfg = loadConfig({ text: `postgres:\n  upstream:\n    password: {file: ${file}}\n`, env: {} });
    expect(cfg.postgres.upstream.password).toBeInstanceOf(FileSecret);
    writeFileSync(file, "second-value\n");
    expect(cfg.postgres.upstream.password!.reveal()).toBe("second-value");
  });
});
