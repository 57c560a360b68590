import { EventEmitter } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { asError, RegateError } from "../errors.js";
import { readBundle } from "./bundle.js";
import { activate, type ActivePolicy } from "./engine.js";

export interface PolicyStoreEvents {
  loaded: [revision: string, previous: string | undefined];
  rejected: [error: RegateError];
}

/**
 * The current policy, swapped atomically. A new bundle is loaded beside the old one and only
 * replaces it once it has compiled and passed every check; a broken bundle leaves the old one serving.
 */
export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  #active: ActivePolicy | undefined;
  #loading: Promise<void> = Promise.resolve();
  #watching = false;
  /** The file the last load attempt read (good or broken): reload only when the file is another one. */
  #seen: FileIdentity | undefined;

  constructor(readonly path: string) {
    super();
  }

  get active(): ActivePolicy | undefined {
    return this.#active;
  }

  /** Loads the bundle file now; throws if it is broken (at boot, a broken bundle must stop startup). */
  async load(): Promise<ActivePolicy> {
    // The identity of the file this load reads: a change is judged against it, not against the last poll,
    // so a swap between load() and the watcher's first poll is not missed.
    this.#seen = await stat(this.path).then(identity, () => undefined);
    const bytes = await readFile(this.path).catch((cause: unknown) => {
      throw new RegateError("BUNDLE_INVALID", `cannot read policy bundle ${this.path}`, { cause });
    });
    const next = await activate(readBundle(bytes));
    const previous = this.#active?.revision;
    this.#active = next;
    this.emit("loaded", next.revision, previous);
    return next;
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
  }
}

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

const identity = (s: Stats): FileIdentity => ({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
const sameFile = (a: FileIdentity, b: FileIdentity) => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
