import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { RegateError } from "../errors.js";
import { canonicalFile, jsonBudget, type JsonBudget } from "./canonical-json.js";
import { hasControlCharacters, shown } from "./shown.js";
import { isStructured, SIGNATURES_FILE } from "./signature.js";
import { untar } from "./tar.js";

export interface Manifest {
  revision?: string;
  roots?: string[];
  wasm?: { entrypoint: string; module: string }[];
  metadata?: Record<string, unknown>;
}

export interface Bundle {
  revision: string;
  manifest: Manifest;
  wasm: Uint8Array;
  data: Record<string, unknown>;
  /** Entrypoint names the manifest declares, e.g. "regate/decision". */
  entrypoints: string[];
  /** Every regular file of the tarball by path (no leading "/"): what a signature covers. */
  files: ReadonlyMap<string, Uint8Array>;
  /**
   * A digest of what the bundle holds (`sha256:…`, see contentRevision), whatever its manifest calls it: two
   * builds under one revision name (`make bundle`'s `<sha>-dirty`, a fixed `-r v1`) are two bundles to the
   * rollback check.
   */
  content: string;
}

/** Largest bundle, compressed or unpacked: a bigger file is refused before it is read into memory. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/**
 * Reads an OPA bundle tarball as `opa build -t wasm` writes it. The SDK has no bundle reader,
 * so this is ours: ustar entries, leading "/" stripped, data.json files merged by directory.
 */
export function readBundle(gz: Uint8Array, opts: ParseOptions = {}): Bundle {
  return parseBundle(readTarball(gz), opts);
}

/**
 * Unpacks a bundle without reading any file in it: what a signature check needs. Nothing a bundle server
 * chose is parsed before its signature is checked (JSON costs far more to hold than to send).
 */
export function readTarball(gz: Uint8Array): Map<string, Uint8Array> {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: MAX_BUNDLE_BYTES });
  } catch (cause) {
    const tooBig = (cause as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
    throw new RegateError("BUNDLE_INVALID", tooBig ? `bundle unpacks to more than ${MAX_BUNDLE_BYTES} bytes` : "bundle is not a gzip tarball", { cause });
  }
  return untar(tar);
}

export interface ParseOptions {
  /** Files whose content does not name the bundle (policy.signing.exclude_files): left out of its digest. */
  exclude?: readonly string[];
}

/**
 * The bundle in an unpacked tarball. Structured files (.manifest, data.json) are parsed from their canonical
 * form, the one a signature's digest covers, within one budget of values and depth for the whole bundle.
 */
export function parseBundle(files: ReadonlyMap<string, Uint8Array>, opts: ParseOptions = {}): Bundle {
  const budget = jsonBudget();
  // Canonical texts already made for parsing, reused for the content digest rather than made twice.
  const canonical = new Map<string, string>();
  const manifestBytes = files.get(".manifest");
  let manifest: Manifest = {};
  if (manifestBytes) manifest = parseJson(manifestBytes, ".manifest", budget, canonical) as Manifest;
  // The revision names the policy in every decision, in the rollback history and in /status: a string, as in OPA.
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest) || (manifest.revision !== undefined && typeof manifest.revision !== "string")) {
    throw new RegateError("BUNDLE_INVALID", "bundle .manifest must be a JSON object whose revision is a string");
  }
  // The revision is printed as it is wherever a policy is named (`regate status`, /status, errors): one that could
  // move an operator's cursor, clear the screen or hide text is no name, whoever built or signed it.
  if (manifest.revision !== undefined && hasControlCharacters(manifest.revision)) {
    throw new RegateError("BUNDLE_INVALID", `bundle .manifest revision ${shown(manifest.revision)} holds control or invisible characters`);
  }
  const wasmPath = manifest.wasm?.[0]?.module?.replace(/^\//, "") ?? "policy.wasm";
  if (manifest.wasm && new Set(manifest.wasm.map((w) => w.module)).size > 1) {
    throw new RegateError("BUNDLE_INVALID", "bundle with several WASM modules is not supported");
  }
  const wasm = files.get(wasmPath);
  if (!wasm) throw new RegateError("BUNDLE_INVALID", `bundle has no ${shown(wasmPath)}; build it with opa build -t wasm`);

  const data: Record<string, unknown> = {};
  for (const [path, bytes] of files) {
    if (path !== "data.json" && !path.endsWith("/data.json")) continue;
    const value = parseJson(bytes, path, budget, canonical);
    const dirs = path.split("/").slice(0, -1);
    mergeAt(data, dirs, value, path);
  }
  refuseUnsignedReads(opts.exclude ?? [], wasmPath, files);
  const content = contentRevision(files, opts.exclude ?? [], canonical);
  const revision = manifest.revision || content;
  const entrypoints = (manifest.wasm ?? []).map((w) => w.entrypoint);
  return { revision, manifest, wasm, data, entrypoints, files, content };
}

/**
 * exclude_files is for files regate never reads (a README, a test fixture). A file that decides (the module,
 * the manifest naming it, any data.json) left out of the signature would let whoever serves the bundle change
 * every decision while the signature still checks, so such an exclusion refuses the bundle.
 */
function refuseUnsignedReads(exclude: readonly string[], wasmPath: string, files: ReadonlyMap<string, Uint8Array>): void {
  for (const raw of exclude) {
    const path = raw.replace(/^\/+/, "");
    if (!files.has(path)) continue;
    if (path === ".manifest" || path === wasmPath || path === "data.json" || path.endsWith("/data.json")) {
      throw new RegateError("BUNDLE_INVALID", `bundle file ${shown(path)} decides what the policy does, so policy.signing.exclude_files cannot leave it unsigned; remove it from exclude_files`);
    }
  }
}

/**
 * The revision of a bundle whose manifest names none: a digest of its files (structured ones in canonical
 * form), not of the tarball. The same signed files compressed again, re-indented or packed in another order
 * are the same bundle, so a replay of an old one is still recognised as that one by the rollback check.
 */
function contentRevision(files: ReadonlyMap<string, Uint8Array>, exclude: readonly string[], canonical: ReadonlyMap<string, string>): string {
  const skip = new Set([SIGNATURES_FILE, ...exclude.map((f) => f.replace(/^\/+/, ""))]);
  const h = createHash("sha256");
  for (const path of [...files.keys()].sort()) {
    if (skip.has(path)) continue;
    const bytes = files.get(path)!;
    const content = isStructured(path) ? Buffer.from(canonical.get(path) ?? canonicalFile(bytes, jsonBudget()), "utf8") : bytes;
    h.update(`${Buffer.byteLength(path)}:${path}\0${content.byteLength}:`).update(content);
  }
  return `sha256:${h.digest("hex")}`;
}

function parseJson(bytes: Uint8Array, name: string, budget: JsonBudget, canonical: Map<string, string>): unknown {
  try {
    const text = canonicalFile(bytes, budget);
    canonical.set(name, text);
    return JSON.parse(text);
  } catch (cause) {
    const limit = cause instanceof RegateError && /more than|deeper than/.test(cause.message);
    throw new RegateError("BUNDLE_INVALID", limit ? `bundle file ${shown(name)}: ${cause.message}` : `bundle file ${shown(name)} is not valid JSON`, { cause });
  }
}

/**
 * Merges one data.json under its directory. Runs before the signature is checked, on names and keys an
 * attacker chooses, so only own properties are read and every key is defined, never assigned: a directory
 * `__proto__/` walked as `node[dir]` would reach Object.prototype and a key merged there would appear on
 * every object of the process (a configured signing key among them). `__proto__` or `constructor` is data.
 */
function mergeAt(root: Record<string, unknown>, dirs: string[], value: unknown, name: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RegateError("BUNDLE_INVALID", `bundle file ${shown(name)} must hold a JSON object`);
  }
  let node = root;
  for (const dir of dirs) {
    const next = Object.hasOwn(node, dir) ? node[dir] : define(node, dir, {});
    if (typeof next !== "object" || next === null || Array.isArray(next)) {
      throw new RegateError("BUNDLE_INVALID", `bundle data conflict at ${shown(name)}`);
    }
    node = next as Record<string, unknown>;
  }
  for (const [k, v] of Object.entries(value)) {
    if (Object.hasOwn(node, k)) throw new RegateError("BUNDLE_INVALID", `bundle data key ${shown(k)} defined twice (${shown(name)})`);
    define(node, k, v);
  }
}

function define<T>(obj: Record<string, unknown>, key: string, value: T): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}
