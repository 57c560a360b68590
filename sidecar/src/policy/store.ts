import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
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

  constructor(readonly path: string) {
    super();
  }

  get active(): ActivePolicy | undefined {
    return this.#active;
  }

  /** Loads the bundle file now; throws if it is broken (at boot, a broken bundle must stop startup). */
  async load(): Promise<ActivePolicy> {
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
    watchFile(this.path, { interval: intervalMs, persistent: false }, (curr: Stats, prev: Stats) => {
      if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
      if (curr.nlink === 0 && curr.size === 0) return; // removed: keep serving the last good bundle
      this.#loading = this.#loading.then(() => this.reload());
    });
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
