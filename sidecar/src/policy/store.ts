import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { asError, RegateError } from "../errors.js";
import { MAX_BUNDLE_BYTES, parseBundle, readTarball } from "./bundle.js";
import { activate, type ActivePolicy } from "./engine.js";
import { verifyBundleSignature, type SigningOptions, type SignatureInfo } from "./signature.js";
import { shown } from "./shown.js";
import type { BundleStatus } from "./status.js";

export interface PolicyStoreEvents {
  /** `dropped`: entrypoints the replaced bundle had and this one has not (system/log/mask: the log is no longer masked). */
  loaded: [revision: string, previous: string | undefined, dropped: string[]];
  rejected: [error: RegateError];
}

export interface PolicyStoreOptions {
  /** Name under `bundles` in /status (OPA's bundle name). */
  name?: string;
  /** Verify .signatures.json; absent: signatures are not checked (as OPA without a `signing` config). */
  signing?: SigningOptions;
  /** Accept a signed bundle older than the active one. */
  allowRollback?: boolean;
  /** policy.eval_timeout_ms: above 0, each activated policy evaluates on a worker within this budget. */
  evalTimeoutMs?: number;
  /**
   * policy.entrypoint: a bundle whose module lacks it is refused. Activated, it would deny every decision
   * (POLICY_EVAL_FAILED) in place of the policy that served until then.
   */
  entrypoint?: string;
}

export type BundleSource = NonNullable<BundleStatus["source"]>;

/**
 * The current policy, swapped atomically. A new bundle is loaded beside the old one and only
 * replaces it once it has compiled and passed every check (signature, rollback); a broken bundle
 * leaves the old one serving.
 */
export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  #active: ActivePolicy | undefined;
  #signature: SignatureInfo | undefined;
  /** sha256 of the active bundle's bytes: the same bytes again are not activated twice. */
  #digest: string | undefined;
  /** The active bundle's content digest (Bundle.content): what names it when its revision names another bundle too. */
  #content: string | undefined;
  /**
   * Revisions that were active before the current one: serving one again is a rollback. A bundle replaced by one
   * of the same revision is remembered by its content digest (`sha256:…`) instead, which its revision cannot tell
   * from the bundle now active.
   */
  #previousRevisions = new Set<string>();
  #loading: Promise<void> = Promise.resolve();
  #watching = false;
  /** The file the last load attempt read (good or broken): reload only when the file is another one. */
  #seen: FileIdentity | undefined;
  readonly #opts: PolicyStoreOptions;
  readonly #status: BundleStatus;

  constructor(
    readonly path: string,
    opts: PolicyStoreOptions = {},
  ) {
    super();
    this.#opts = opts;
    this.#status = { name: opts.name ?? "regate", metrics: { downloads: 0, not_modified: 0, activations: 0, refused: 0, download_errors: 0 } };
  }

  get active(): ActivePolicy | undefined {
    return this.#active;
  }

  /** Revisions that were active before the current one, oldest first (the rollback check refuses them). */
  get previousRevisions(): string[] {
    return [...this.#previousRevisions];
  }

  /** Seeds the rollback check with revisions a previous run had activated (persisted beside the bundle). */
  rememberRevisions(revisions: Iterable<string>): void {
    for (const r of revisions) this.#previousRevisions.add(r);
    this.#trimHistory();
  }

  #trimHistory(): void {
    for (const r of this.#previousRevisions) {
      if (this.#previousRevisions.size <= MAX_HISTORY) break;
      this.#previousRevisions.delete(r);
    }
  }

  /** A copy of the bundle status, OPA's shape. */
  status(): BundleStatus {
    return structuredClone(this.#status);
  }

  /** Loads the bundle file now; throws if it is broken (at boot, a broken bundle must stop startup). */
  async load(source: BundleSource = "file"): Promise<ActivePolicy> {
    // The identity of the file this load reads: a change is judged against it, not against the last poll,
    // so a swap between load() and the watcher's first poll is not missed.
    this.#seen = await stat(this.path).then(identity, () => undefined);
    // A huge file would be read whole before gunzip refuses it (a 2 GiB one, into a sidecar's memory limit).
    if (this.#seen && this.#seen.size > MAX_BUNDLE_BYTES) {
      throw this.#refused(new RegateError("BUNDLE_INVALID", `policy bundle ${this.path} is ${this.#seen.size} bytes, more than ${MAX_BUNDLE_BYTES}`));
    }
    const bytes = await readFile(this.path).catch((cause: unknown) => {
      throw this.#refused(new RegateError("BUNDLE_INVALID", `cannot read policy bundle ${this.path}`, { cause }));
    });
    await this.install(bytes, source);
    return this.#active!;
  }

  /**
   * Verifies, compiles and swaps in a bundle. Returns the new policy, or undefined when the bundle is
   * the revision already active. Throws (and records the error in the status) when it is refused.
   */
  async install(bytes: Uint8Array, source: BundleSource): Promise<ActivePolicy | undefined> {
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest === this.#digest && this.#active) return undefined;
    let next: ActivePolicy;
    let signature: SignatureInfo | undefined;
    let content: string;
    try {
      // Unpacked, not read: no file is parsed until the signature covers it (JSON costs more to hold than to send).
      const files = readTarball(bytes);
      const signing = this.#opts.signing;
      if (signing) signature = verifyBundleSignature(files, signing);
      const bundle = parseBundle(files, signing ? { exclude: signing.exclude_files } : {});
      content = bundle.content;
      if (signing) this.#checkRollback(bundle.revision, bundle.content, signature);
      next = await activate(bundle, { evalTimeoutMs: this.#opts.evalTimeoutMs ?? 0 });
      const entrypoint = this.#opts.entrypoint;
      if (entrypoint !== undefined && !next.entrypoints.has(entrypoint)) {
        next.close?.();
        throw new RegateError("BUNDLE_INVALID", `bundle ${shown(bundle.revision)} has no entrypoint ${entrypoint} (it has ${[...next.entrypoints].join(", ") || "none"}); build it with opa build -t wasm -e ${entrypoint}`);
      }
    } catch (err) {
      throw this.#refused(err instanceof RegateError ? err : new RegateError("BUNDLE_INVALID", undefined, { cause: asError(err) }));
    }
    const replaced = this.#active;
    const previous = replaced?.revision;
    // The replaced bundle by its revision, or by its content when the new one bears the same revision: two builds
    // under one name (`make bundle`'s `<sha>-dirty`, a fixed `-r v1`), signed without iat, were otherwise told apart
    // by nothing, and the earlier one could be served again over the later one.
    const gone = previous === undefined ? undefined : previous !== next.revision ? previous : this.#content !== content ? this.#content : undefined;
    if (gone !== undefined) {
      this.#previousRevisions.delete(gone); // re-added last: the set stays in activation order
      this.#previousRevisions.add(gone);
      this.#trimHistory();
    }
    this.#previousRevisions.delete(next.revision);
    this.#previousRevisions.delete(content);
    this.#active = next;
    this.#digest = digest;
    this.#content = content;
    this.#signature = signature;
    const s = this.#status;
    s.active_revision = next.revision;
    s.source = source;
    s.last_successful_activation = new Date().toISOString();
    s.metrics!.activations++;
    if (signature) s.signature = { keyid: signature.keyid, ...(signature.issued_at !== undefined ? { issued_at: signature.issued_at } : {}) };
    else delete s.signature;
    this.#clearError();
    // Evaluation is synchronous, so none is in flight here: the old policy's worker can go at once.
    if (replaced !== next) replaced?.close?.();
    const dropped = replaced ? [...replaced.entrypoints].filter((e) => !next.entrypoints.has(e)) : [];
    this.emit("loaded", next.revision, previous, dropped);
    return next;
  }

  /**
   * A signed bundle must not be older than the active one: replaying an old, laxer policy is an attack. A revision
   * that was active before is refused even while none is active (the persisted copy did not load at a restart, and
   * the revisions remembered from the previous run are all there is to go by).
   */
  #checkRollback(revision: string, content: string, signature: SignatureInfo | undefined): void {
    if (this.#opts.allowRollback) return;
    const since = this.#active ? `before ${this.#active.revision}` : "in an earlier run";
    if (this.#previousRevisions.has(revision)) {
      throw new RegateError("BUNDLE_ROLLBACK", `bundle revision ${revision} was active ${since}; set policy.signing.allow_rollback to go back`);
    }
    if (this.#previousRevisions.has(content)) {
      throw new RegateError(
        "BUNDLE_ROLLBACK",
        `bundle revision ${revision} with this content (${content}) was active ${since}, replaced by a later build of that revision; set policy.signing.allow_rollback to go back`,
      );
    }
    if (!this.#active) return;
    const was = this.#signature?.issued_at;
    const now = signature?.issued_at;
    if (was !== undefined && (now === undefined || now < was)) {
      throw new RegateError("BUNDLE_ROLLBACK", `bundle revision ${revision} was signed ${now === undefined ? "without a time" : `at ${now}`}, before the active one (${was})`);
    }
  }

  /** Records what the downloader saw; the store owns the one status object. */
  noteRequest(outcome: "downloaded" | "not_modified" | "failed", error?: RegateError): void {
    const s = this.#status;
    const now = new Date().toISOString();
    s.last_request = now;
    if (outcome === "failed") {
      s.metrics!.download_errors++;
      this.#setError(error ?? new RegateError("BUNDLE_DOWNLOAD_FAILED"));
      return;
    }
    s.last_successful_request = now;
    if (outcome === "downloaded") {
      s.last_successful_download = now;
      s.metrics!.downloads++;
    } else {
      s.metrics!.not_modified++;
      this.#clearError();
    }
  }

  #refused(err: RegateError): RegateError {
    this.#status.metrics!.refused++;
    this.#setError(err);
    return err;
  }

  #setError(err: RegateError): void {
    const s = this.#status;
    s.code = err.code;
    s.message = err.message;
    const causes: string[] = [];
    for (let c: unknown = err.cause; c instanceof Error && causes.length < 5; c = c.cause) causes.push(c.message);
    if (causes.length) s.errors = causes;
    else delete s.errors;
    s.last_error_time = new Date().toISOString();
  }

  #clearError(): void {
    delete this.#status.code;
    delete this.#status.message;
    delete this.#status.errors;
  }

  /** Polls the file: works for atomic renames and Kubernetes ConfigMap symlink swaps alike. */
  watch(intervalMs: number): void {
    if (this.#watching) return;
    this.#watching = true;
    const check = () => {
      this.#loading = this.#loading.then(() => this.#reloadIfChanged());
    };
    watchFile(this.path, { interval: intervalMs, persistent: false }, check);
    // The first poll only sets the watcher's baseline: look once now for a change made since load().
    check();
  }

  /** Serialised behind earlier reloads, so two notices of one change load it once. */
  async #reloadIfChanged(): Promise<void> {
    const now = await stat(this.path).then(identity, () => undefined);
    if (!now) return; // removed: keep serving the last good bundle
    if (this.#seen && sameFile(now, this.#seen)) return;
    await this.reload();
  }

  /** Serialised reloads; errors are reported as events, never thrown. */
  async reload(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      const e = err instanceof RegateError ? err : new RegateError("BUNDLE_INVALID", undefined, { cause: asError(err) });
      this.emit("rejected", e);
    }
  }

  close(): void {
    if (this.#watching) unwatchFile(this.path);
    this.#watching = false;
    this.#active?.close?.();
  }
}

/** Revisions remembered for the rollback check. */
const MAX_HISTORY = 1000;

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

const identity = (s: Stats): FileIdentity => ({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
const sameFile = (a: FileIdentity, b: FileIdentity) => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
