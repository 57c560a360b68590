import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../paths.js";
import { readBundle } from "./bundle.js";
import { activate } from "./engine.js";
import { PolicyStore } from "./store.js";
import { validateDecision } from "./validate.js";

const BUNDLE = join(packageRoot, "build", "bundle.tar.gz");
const OPA = join(packageRoot, ".bin", "opa");

/** Builds a bundle from Rego source with the real opa CLI. */
function build(rego: string, opts: { capabilities?: boolean; revision?: string } = {}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "regate-bundle-"));
  writeFileSync(join(dir, "p.rego"), rego);
  const out = join(dir, "b.tar.gz");
  const args = ["build", "-t", "wasm", "-e", "regate/decision", "-o", out, join(dir, "p.rego")];
  if (opts.capabilities) args.push("--capabilities", join(packageRoot, "testdata/opa/wasm-capabilities.json"));
  if (opts.revision) args.push("-r", opts.revision);
  execFileSync(OPA, args, { stdio: "pipe" });
  return readFileSync(out);
}

const ALLOW = 'package regate\ndecision := {"allow": true, "deny": [], "mask": []}\n';

describe("bundle loading", () => {
  it("reads the example bundle: manifest revision, entrypoints, wasm", () => {
    const b = readBundle(readFileSync(BUNDLE));
    expect(b.entrypoints).toEqual(["regate/decision", "system/log/mask"]);
    expect(b.revision).not.toBe("");
    expect(b.wasm.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  });

  it("falls back to the tarball's sha256 when the manifest has no revision", () => {
    const b = readBundle(build(ALLOW));
    expect(b.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses corrupt and non-bundle files", () => {
    expect(() => readBundle(Buffer.from("not a bundle"))).toThrow(/not a gzip tarball/);
    const good = readFileSync(BUNDLE);
    const truncated = good.subarray(0, good.length / 2);
    expect(() => readBundle(truncated)).toThrow(/gzip|truncated|corrupt/);
  });

  it("refuses a module that needs a builtin the WASM target cannot run", async () => {
    const needsTime = 'package regate\ndecision := {"allow": time.now_ns() > 0, "deny": [], "mask": []}\n';
    await expect(activate(readBundle(build(needsTime)))).rejects.toThrow(/time.now_ns/);
  });

  it("the capabilities file turns that into a build error", () => {
    const needsTime = 'package regate\ndecision := {"allow": time.now_ns() > 0, "deny": [], "mask": []}\n';
    let stderr = "";
    try {
      build(needsTime, { capabilities: true });
    } catch (e) {
      stderr = String((e as { stdout: Buffer }).stdout) + String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toMatch(/undefined function time.now_ns/);
  });
});

describe("evaluation", () => {
  it("returns undefined for an undefined decision, which validation refuses", async () => {
    const p = await activate(readBundle(build("package regate\ndecision := 1 if input.never\n")));
    expect(p.evaluate("regate/decision", {})).toBeUndefined();
    expect(() => validateDecision(undefined)).toThrow(/no decision/);
  });

  it("wraps runtime conflicts thrown as strings", async () => {
    const conflict = "package regate\ndecision := 1 if input.a\ndecision := 2 if input.a\n";
    const p = await activate(readBundle(build(conflict)));
    let thrown: unknown;
    try {
      p.evaluate("regate/decision", { a: true });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as { code: string }).code).toBe("POLICY_EVAL_FAILED");
    expect(((thrown as Error).cause as Error).message).toMatch(/conflict/);
  });

  it.each([
    [{ allow: "yes", deny: [], mask: [] }],
    [{ allow: true, deny: [], mask: [], extra: 1 }],
    [{ allow: true, deny: [], mask: [{ column: "email", strategy: "redact" }] }],
    [{ allow: true, deny: [], mask: [{ field: "email", strategy: "scramble" }] }],
    [{ allow: true, deny: [] }],
    [["allow"]],
  ])("refuses a malformed decision %j", (value) => {
    expect(() => validateDecision(value)).toThrow(/malformed|must/);
  });
});

describe("hot reload", () => {
  it("keeps the last good bundle when a broken one arrives, swaps to a good new one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-store-"));
    const path = join(dir, "bundle.tar.gz");
    writeFileSync(path, build(ALLOW, { revision: "r1" }));
    const store = new PolicyStore(path);
    const events: string[] = [];
    const dropped: string[][] = [];
    store.on("loaded", (rev, _previous, gone) => {
      events.push(`loaded ${rev}`);
      dropped.push(gone);
    });
    store.on("rejected", (err) => events.push(`rejected ${err.code}`));
    await store.load();
    store.watch(50);
    writeFileSync(join(dir, "tmp"), "garbage");
    renameSync(join(dir, "tmp"), path);
    await waitFor(() => events.length === 2);
    expect(store.active?.revision).toBe("r1");
    expect(store.active?.evaluate("regate/decision", {})).toEqual({ allow: true, deny: [], mask: [] });
    writeFileSync(join(dir, "tmp"), build('package regate\ndecision := {"allow": false, "deny": ["v2"], "mask": []}\n', { revision: "r2" }));
    renameSync(join(dir, "tmp"), path);
    await waitFor(() => events.length === 3).catch((e: Error) => {
      throw new Error(`${e.message}: events ${JSON.stringify(events)}`);
    });
    store.close();
    expect(events).toEqual(["loaded r1", "rejected BUNDLE_INVALID", "loaded r2"]);
    expect(dropped).toEqual([[], []]);
    expect(store.active?.revision).toBe("r2");
  }, 60_000);

  it("names the entrypoints a new bundle no longer has (system/log/mask: the log stops being masked)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "regate-store-"));
    const path = join(dir, "bundle.tar.gz");
    writeFileSync(path, readFileSync(BUNDLE));
    const store = new PolicyStore(path);
    const dropped: string[][] = [];
    store.on("loaded", (_rev, _previous, gone) => dropped.push(gone));
    await store.load();
    writeFileSync(path, build(ALLOW, { revision: "no-log-mask" }));
    await store.load();
    store.close();
    expect(dropped).toEqual([[], ["system/log/mask"]]);
  }, 60_000);
});

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
