// Fault: a corrupt, truncated or huge bundle dropped in at hot reload. The last good bundle keeps serving
// (reads still answered, refusals still refused: not fail-open), /status names the error, sessions opened
// before and after are served, and a good bundle afterwards is taken up.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { buildBundle } from "./support/bundles.js";
import { BUNDLE, startRegateChild, type RegateChild } from "./support/regate-child.js";

let db: TestPostgres;
let regate: RegateChild;
let dir: string;
let bundlePath: string;
const clients: pg.Client[] = [];

async function agent(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

/** /status names errors to a responder only (docs/incident-response.md). */
const OPS_TOKEN = "rel-ops-token-8e21c4";

async function bundleStatus(): Promise<Record<string, any>> {
  const res = await regate.admin("/status", OPS_TOKEN);
  return { ...res.body.bundles.regate, plugin: res.body.plugins.bundle.state };
}

/** Writes `bytes` as the bundle (atomic rename, as a deploy does, unless `inPlace`) and waits for the verdict. */
async function drop(bytes: Buffer, inPlace = false): Promise<Record<string, any>> {
  const before = (await bundleStatus()).metrics;
  if (inPlace) writeFileSync(bundlePath, bytes);
  else {
    writeFileSync(`${bundlePath}.tmp`, bytes);
    renameSync(`${bundlePath}.tmp`, bundlePath);
  }
  for (let i = 0; i < 200; i++) {
    const s = await bundleStatus();
    if (s.metrics.refused > before.refused || s.metrics.activations > before.activations) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("regate did not react to the new bundle file within 10 s");
}

/** The example policy still decides: a read answers, internal.* is refused (42501). */
async function stillEnforced(c: pg.Client): Promise<void> {
  await expect(c.query("SELECT count(*)::int AS n FROM public.orders")).resolves.toMatchObject({ rows: [{ n: 5000 }] });
  await expect(c.query("SELECT * FROM internal.api_keys")).rejects.toMatchObject({ code: "42501" });
}

/** The real bundle repacked with garbage in place of policy.wasm (tar, as a hand-made bundle would be). */
function withGarbageWasm(good: Buffer): Buffer {
  const work = mkdtempSync(join(tmpdir(), "regate-rel-badwasm-"));
  mkdirSync(join(work, "x"));
  writeFileSync(join(work, "in.tar.gz"), good);
  execFileSync("tar", ["-xzf", join(work, "in.tar.gz"), "-C", join(work, "x")], { stdio: "pipe" });
  const wasm = readdirSync(join(work, "x"), { recursive: true }).map(String).find((f) => f.endsWith(".wasm"))!;
  writeFileSync(join(work, "x", wasm), Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), Buffer.alloc(64, 0xff)]));
  execFileSync("tar", ["-czf", join(work, "out.tar.gz"), "-C", join(work, "x"), "."], { stdio: "pipe" });
  return readFileSync(join(work, "out.tar.gz"));
}

beforeAll(async () => {
  db = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "regate-rel-reload-"));
  bundlePath = join(dir, "bundle.tar.gz");
  copyFileSync(BUNDLE, bundlePath);
  regate = await startRegateChild({ name: "bundle-reload", pg: db, overrides: { policy: { bundle: bundlePath, watch_interval_ms: 100 }, incident: { responders: [{ name: "ops", token: { value: OPS_TOKEN } }] } } });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("bad bundles at hot reload", () => {
  it("corrupt, truncated, gzip bomb, huge and uncompilable bundles are refused; the last good one serves", async () => {
    const good = readFileSync(BUNDLE);
    const revision = (await bundleStatus()).active_revision as string;
    const early = await agent();
    await stillEnforced(early);
    const rss: Record<string, number> = { before: Math.round((regate.rssKb() ?? 0) / 1024) };

    const cases: { name: string; bytes: Buffer; inPlace?: boolean; says: RegExp }[] = [
      { name: "corrupt", bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), says: /not a gzip tarball/ },
      { name: "truncated (half written in place)", bytes: good.subarray(0, Math.floor(good.length / 2)), inPlace: true, says: /not a gzip tarball/ },
      { name: "gzip bomb (100 MiB of zeros)", bytes: gzipSync(Buffer.alloc(100 * 1024 * 1024)), says: /unpacks to more than 67108864 bytes/ },
      { name: "huge (96 MiB)", bytes: Buffer.alloc(96 * 1024 * 1024, 1), says: /is 100663296 bytes, more than 67108864/ },
      { name: "policy.wasm that does not compile", bytes: withGarbageWasm(good), says: /policy\.wasm does not compile/ },
    ];
    for (const c of cases) {
      const s = await drop(c.bytes, c.inPlace);
      process.stdout.write(`${c.name}: ${s.code} ${s.message} ${JSON.stringify(s.errors ?? [])}; RSS ${Math.round((regate.rssKb() ?? 0) / 1024)} MB\n`);
      expect(s.code, c.name).toBe("BUNDLE_INVALID");
      expect(s.message, c.name).toMatch(c.says);
      expect(regate.stdout(), c.name).toMatch(/new policy bundle refused; the previous one keeps serving/);
      expect(s.active_revision, c.name).toBe(revision);
      expect(s.plugin, c.name).toBe("WARN");
      await stillEnforced(early);
      const late = await agent();
      await stillEnforced(late);
      rss[c.name] = Math.round((regate.rssKb() ?? 0) / 1024);
    }
    process.stdout.write(`RSS MB: ${JSON.stringify(rss)}\n`);
    // Regression: the 96 MiB file was read whole before being refused (RSS rose by about its size).
    expect(rss["huge (96 MiB)"]! - rss["gzip bomb (100 MiB of zeros)"]!).toBeLessThan(48);

    // A good bundle with a new revision is taken up and clears the error.
    const next = readFileSync(buildBundle("reliability-reload-2", {}));
    const s = await drop(next);
    expect(s.active_revision).toBe("reliability-reload-2");
    expect(s.code).toBeUndefined();
    expect(s.plugin).toBe("OK");
    await stillEnforced(early);
    expect(regate.exited()).toBe(false);
  }, 120_000);
});
