import { readFileSync, statSync } from "node:fs";
import { Secret } from "./types.js";

/**
 * A secret given as `{file: …}` follows its file: each reveal() checks the file's identity (inode,
 * size, mtime; a Kubernetes secret volume swaps a symlink, an editor renames over) and re-reads it
 * when it changed. A stat costs microseconds and the upstream password is revealed once per new
 * upstream connection, so rotation needs no watcher and no restart. A file that is missing or empty
 * for a moment (being rewritten) keeps the last value instead of failing closed on a half-written file.
 */
export class FileSecret extends Secret {
  readonly #file: string;
  #value: string;
  #stamp: string | undefined;
  #changedAt: Date | undefined;

  constructor(file: string, source: string, value: string) {
    super(value, source);
    this.#file = file;
    this.#value = value;
    this.#stamp = stampOf(file);
  }

  override reveal(): string {
    const stamp = stampOf(this.#file);
    if (stamp === undefined || stamp === this.#stamp) return this.#value;
    let next: string;
    try {
      next = readFileSync(this.#file, "utf8").replace(/\r?\n$/, "");
    } catch {
      return this.#value;
    }
    if (next === "") return this.#value;
    this.#stamp = stamp;
    if (next !== this.#value) {
      this.#value = next;
      this.#changedAt = new Date();
    }
    return this.#value;
  }

  /** When this process last saw the file's value change (undefined: never since start). */
  get changedAt(): Date | undefined {
    return this.#changedAt;
  }
}

function stampOf(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}
