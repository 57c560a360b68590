// The persisted bundle and its revision history survive a crash at any point of their replacement: a restart
// (the real loader, startPolicySource, with the bundle server down) enforces the old pair or the new one, never
// refuses its own saved copy, and still refuses replays of revisions that were active before.

import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RegateError } from "../../src/errors.js";
import { PolicyStore, startPolicySource, type SigningOptions } from "../../src/policy/index.js";
import { persist, revisionsPath } from "../../src/policy/persisted.js";
import { ALLOW, DENY, makeKeys, opaBuild } from "./opa.js";

const keys = makeKeys();
const signing: SigningOptions = { required: true, exclude_files: [], keys: { ci: { algorithm: "RS256", key: readFileSync(keys.rsaPublic, "utf8"), scope: "regate" } } };
// Signed without iat (opa build's default): only the remembered revisions refuse a replay.
const sign = { key: keys.rsaPrivate, alg: "RS256", claims: { keyid: "ci", scope: "regate" } };
const b: Record<string, Buffer> = {};
let downUrl: string;

beforeAll(async () => {
  for (const [rev, rego] of [["n0", ALLOW], ["n1", DENY], ["n2", ALLOW]] as const) b[rev] = opaBuild({ revision: rev, rego, sign });
  // A port nothing listens on: the restart has only what is on disk.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  downUrl = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
  await new Promise((r) => probe.close(r));
}, 120_000);

/** A directory holding the old pair: n1 persisted after n0 was active. */
async function oldPair(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), "regate-crash-")), "bundle.tar.gz");
  await persist(path, b["n1"]!, "n1", ["n0"]);
  return path;
}

/** Restarts the loader on what is on disk; returns the store and the errors it reported. */
async function restart(path: string): Promise<{ store: PolicyStore; errors: { code: string; where: string }[] }> {
  const store = new PolicyStore(path, { signing });
  const errors: { code: string; where: string }[] = [];
  const config = { bundle: path, entrypoint: "regate/decision", dry_run: false, watch_interval_ms: 0, signing: { ...signing, allow_rollback: false }, service: { url: downUrl, resource: "b.tar.gz", min_delay_seconds: 600, max_delay_seconds: 600, long_polling_timeout_seconds: 0, persist: true } };
  const source = await startPolicySource(store, config as never, { onError: (e: RegateError, where) => errors.push({ code: e.code, where }) });
  source.close();
  return { store, errors };
}

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: RegateError) => e.code,
  );
}

const temps = (path: string) => readdirSync(join(path, "..")).filter((n) => n.endsWith(".tmp"));

describe("a crash while n2 replaces the persisted n1", () => {
  // [the step after which the process dies, the revision the restart must enforce]
  it.each([
    ["bundle written", "n1"],
    ["bundle renamed", "n2"],
    ["revisions written", "n2"],
    ["revisions renamed", "n2"],
  ])("after %s: the restart enforces %s and refuses replays of what was active before", async (crashAfter, enforced) => {
    const path = await oldPair();
    const crash = (step: string) => {
      if (step === crashAfter) throw new Error("crash");
    };
    await expect(persist(path, b["n2"]!, "n2", ["n0", "n1"], crash)).rejects.toThrow("crash");
    // A temp file cut short, as a crash during its write leaves it.
    for (const t of temps(path)) truncateSync(join(path, "..", t), 100);

    const { store, errors } = await restart(path);
    expect(store.active?.revision).toBe(enforced);
    expect(errors.filter((e) => e.where === "persisted")).toEqual([]);
    expect(await refusal(store.install(b["n0"]!, "service"))).toBe("BUNDLE_ROLLBACK");
    if (enforced === "n2") expect(await refusal(store.install(b["n1"]!, "service"))).toBe("BUNDLE_ROLLBACK");
    else expect(await refusal(store.install(b["n2"]!, "service"))).toBeUndefined();
  });

  it("the next write removes the temp files a crash left", async () => {
    const path = await oldPair();
    await expect(
      persist(path, b["n2"]!, "n2", ["n0", "n1"], (s) => {
        if (s === "revisions written") throw new Error("crash");
      }),
    ).rejects.toThrow("crash");
    // Another process (another pid) left one too.
    writeFileSync(`${path}.999999.tmp`, "torn");
    expect(temps(path).length).toBe(2);
    await persist(path, b["n2"]!, "n2", ["n0", "n1"]);
    expect(temps(path)).toEqual([]);
    expect(readFileSync(path).equals(b["n2"]!)).toBe(true);
  });
});

describe("a pair an earlier version tore: the new list beside the old bundle", () => {
  it("the saved copy loads; the other revisions stay refused", async () => {
    const path = await oldPair();
    // The list was written first, then the process died before the bundle was renamed.
    writeFileSync(revisionsPath(path), JSON.stringify({ previous_revisions: ["n0", "n1"] }));
    const copy = join(mkdtempSync(join(tmpdir(), "regate-crash-")), "bundle.tar.gz");
    cpSync(path, copy);
    cpSync(revisionsPath(path), revisionsPath(copy));
    const { store, errors } = await restart(copy);
    expect(errors.filter((e) => e.where === "persisted")).toEqual([]);
    expect(store.active?.revision).toBe("n1");
    expect(await refusal(store.install(b["n0"]!, "service"))).toBe("BUNDLE_ROLLBACK");
    expect(existsSync(copy)).toBe(true);
  });
});
