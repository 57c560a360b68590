import { createHash } from "node:crypto";
import { RegateError } from "../errors.js";
import { canonicalFile, jsonBudget, parseBounded, SMALL_JSON_VALUES, type JsonBudget } from "./canonical-json.js";
import { decodeJws, verifyJws, type VerificationKey } from "./jws.js";
import { shown } from "./shown.js";

export const SIGNATURES_FILE = ".signatures.json";

export interface SigningOptions {
  /** Refuse a bundle without .signatures.json, whatever the keyid configuration. */
  required: boolean;
  /** Key to verify with; when unset, the token's `kid` header, then its `keyid` claim, names it. */
  keyid?: string;
  /** Expected `scope` claim; when unset, the key's scope. */
  scope?: string;
  /** Bundle files left out of the signature (exact paths). */
  exclude_files: readonly string[];
  keys: Readonly<Record<string, VerificationKey & { scope?: string }>>;
}

/** What a verified signature tells about the bundle. */
export interface SignatureInfo {
  keyid: string;
  /** `iat` claim (seconds since the epoch), when the signer set one. */
  issued_at?: number;
  files: number;
}

const HASHES: Record<string, string> = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", "SHA-224": "sha224" };
/**
 * OPA accepts these; regate does not: collisions are practical for both, so a signer who was handed one of
 * two colliding files (a data.json from a contributor) would have signed the other as well.
 */
const BROKEN_HASHES = new Set(["MD5", "SHA-1"]);

const fail = (message: string, cause?: unknown) => new RegateError("BUNDLE_SIGNATURE_INVALID", message, cause === undefined ? undefined : { cause });

/** Files OPA hashes (and regate parses) in canonical JSON form. */
export function isStructured(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base === "data.json" || base === ".manifest";
}

/**
 * Checks a bundle's .signatures.json as OPA does: one JWT whose payload lists every file of the bundle
 * with its digest; the JWT is verified with a configured key, its scope must match, every file must be
 * listed and match, and every listed file must be present. Returns undefined for an unsigned bundle
 * when signing is not required.
 */
export function verifyBundleSignature(files: ReadonlyMap<string, Uint8Array>, opts: SigningOptions): SignatureInfo | undefined {
  const sigFile = files.get(SIGNATURES_FILE);
  if (!sigFile) {
    if (opts.required) throw new RegateError("BUNDLE_UNSIGNED", "bundle has no .signatures.json and signing is required");
    return undefined;
  }
  // Within a budget: the file, and the token's header and payload, are read before anything is verified.
  let doc: unknown;
  try {
    // Its tokens are strings: a handful of values, whatever the bundle's size.
    doc = parseBounded(Buffer.from(sigFile.buffer, sigFile.byteOffset, sigFile.byteLength).toString("utf8"), jsonBudget(SMALL_JSON_VALUES));
  } catch (cause) {
    throw fail(`.signatures.json is not valid JSON${cause instanceof RegateError ? ` (${cause.message})` : ""}`, cause);
  }
  const signatures = (doc as { signatures?: unknown } | null)?.signatures;
  if (!Array.isArray(signatures) || signatures.length !== 1 || typeof signatures[0] !== "string") {
    throw fail(".signatures.json must hold exactly one JWT");
  }
  const token = signatures[0];
  const { header, payload: claims } = decodeJws(token);
  const keyid = opts.keyid || str(header["kid"]) || str(claims["keyid"]);
  if (!keyid) throw fail("bundle signature names no key (no kid header, no keyid claim) and none is configured");
  // Own keys only: a key id such as "constructor" or "__proto__" names nothing configured.
  const key = Object.hasOwn(opts.keys, keyid) ? opts.keys[keyid] : undefined;
  if (!key) throw fail(`bundle signature key ${shown(keyid)} is not configured`);
  const { payload } = verifyJws(token, key);
  const scope = opts.scope ?? key.scope ?? "";
  // A scope that is not a string (["staging", "dev"]) names some scope all the same: read as none, a bundle signed
  // for another consumer of the key passed where no scope is configured. OPA refuses it too (its claim is a string).
  const claimed = payload["scope"] ?? "";
  if (typeof claimed !== "string") throw fail(`bundle signature scope is a JSON ${Array.isArray(claimed) ? "array" : typeof claimed}, not a string`);
  if (claimed !== scope) throw fail("bundle signature scope does not match");

  const listed = new Map<string, { hash: string; algorithm: string }>();
  const entries = payload["files"];
  if (!Array.isArray(entries)) throw fail("bundle signature lists no files");
  for (const e of entries as unknown[]) {
    const f = e as { name?: unknown; hash?: unknown; algorithm?: unknown } | null;
    if (!f || typeof f.name !== "string" || typeof f.hash !== "string" || typeof f.algorithm !== "string") throw fail("bundle signature has a malformed file entry");
    listed.set(f.name.replace(/^\/+/, ""), { hash: f.hash.toLowerCase(), algorithm: f.algorithm });
  }
  const excluded = new Set(opts.exclude_files.map((f) => f.replace(/^\/+/, "")));
  // Which files, first, and with what digest: a file the signature does not cover is refused before any file
  // is read, so an unsigned data.json is never parsed. Then the digests, plain files before structured ones.
  const checked: [path: string, bytes: Uint8Array, alg: string, hash: string][] = [];
  for (const [path, bytes] of files) {
    if (path === SIGNATURES_FILE || excluded.has(path)) continue;
    const want = listed.get(path);
    if (!want) throw fail(`bundle file ${shown(path)} is not covered by the signature`);
    if (BROKEN_HASHES.has(want.algorithm)) throw fail(`bundle signature uses ${want.algorithm} for ${shown(path)}, a digest with known collisions; sign with SHA-256`);
    const alg = Object.hasOwn(HASHES, want.algorithm) ? HASHES[want.algorithm] : undefined;
    if (!alg) throw fail(`bundle signature uses unsupported hash ${shown(want.algorithm)} for ${shown(path)}`);
    checked.push([path, bytes, alg, want.hash]);
  }
  for (const path of excluded) listed.delete(path); // excluded: neither checked nor required
  for (const [path] of checked) listed.delete(path);
  if (listed.size > 0) throw fail(`bundle signature lists files the bundle lacks: ${[...listed.keys()].map(shown).join(", ")}`);
  const budget = jsonBudget();
  checked.sort(([a], [b]) => Number(isStructured(a)) - Number(isStructured(b)));
  for (const [path, bytes, alg, hash] of checked) {
    if (fileDigest(path, bytes, alg, budget) !== hash) throw fail(`bundle file ${shown(path)} does not match its signed digest`);
  }
  const iat = payload["iat"];
  return { keyid, files: entries.length, ...(typeof iat === "number" ? { issued_at: iat } : {}) };
}

/** Structured files are hashed in OPA's canonical JSON form, so whitespace and key order do not matter. */
function fileDigest(path: string, bytes: Uint8Array, alg: string, budget: JsonBudget): string {
  const h = createHash(alg);
  if (isStructured(path)) {
    let canonical: string;
    try {
      canonical = canonicalFile(bytes, budget);
    } catch (cause) {
      throw new RegateError("BUNDLE_INVALID", `bundle file ${shown(path)}: ${(cause as Error).message}`, { cause });
    }
    h.update(canonical, "utf8");
  } else h.update(bytes);
  return h.digest("hex");
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
