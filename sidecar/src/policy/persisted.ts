// The last good bundle from a bundle server, kept on disk with the revisions active before it, so a restart
// without the server still enforces and still refuses a replay of an older revision signed without `iat`.
//
// Two files cannot be replaced in one step, so the pair is made so that every crash point reads as either the
// old pair or the new one. Each file is written to a temp file, synced, then renamed over its target (a crash
// mid-write leaves the target whole). The bundle goes first; the revisions file goes second and names the bytes
// of the bundle it belongs to (their SHA-256) and that bundle's revision. A revisions file that names other
// bytes was left by a crash between the two renames: it is the old pair's, and the bundle on disk is the one
// that replaced it, so the old bundle's revision joins the list, which is then the new pair's. (The other order
// left the new list with the old bundle: its own revision in the list, a restart refused its own saved copy;
// such a pair, from a version that wrote in that order, loads too: the bundle's own revision is dropped.)

import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { readBundle } from "./bundle.js";

export const revisionsPath = (bundlePath: string) => `${bundlePath}.revisions.json`;

/** Where a run of this process writes `target` before renaming it. */
const tempPath = (target: string) => `${target}.${process.pid}.tmp`;

interface RevisionsFile {
  /** The revision of the bundle written with this file, and its bytes' SHA-256. */
  revision?: string;
  sha256?: string;
  previous_revisions: string[];
}

/**
 * Test hook: called after each step of a write (`bundle written`, `bundle renamed`, `revisions written`,
 * `revisions renamed`); throwing there stops the write as a crash would.
 */
export type PersistStep = (step: string) => void;

export async function persist(path: string, bytes: Buffer, revision: string, previousRevisions: string[], step: PersistStep = () => {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await removeStaleTemps(path);
  await writeAtomically(path, bytes, "bundle", step);
  const doc: RevisionsFile = { revision, sha256: sha256(bytes), previous_revisions: previousRevisions };
  await writeAtomically(revisionsPath(path), JSON.stringify(doc), "revisions", step);
}

async function writeAtomically(path: string, data: Buffer | string, name: string, step: PersistStep): Promise<void> {
  const tmp = tempPath(path);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    // On disk before the rename is: after a power loss the name never points at a file still unwritten.
    await fh.sync();
  } finally {
    await fh.close();
  }
  step(`${name} written`);
  await rename(tmp, path);
  await syncDir(dirname(path));
  step(`${name} renamed`);
}

/** The rename itself reaches the disk with the directory's entry. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close();
}

/** Temp files an earlier run left when it stopped mid-write (their pid is in the name): never read, removed. */
async function removeStaleTemps(path: string): Promise<void> {
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const mine = [basename(path), basename(revisionsPath(path))];
  for (const n of names) {
    const m = /^(.*)\.\d+\.tmp$/.exec(n);
    if (m && mine.includes(m[1]!)) await unlink(join(dirname(path), n)).catch(() => {});
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * The revisions active before the persisted bundle `bytes`; none when the file is absent or unreadable. A
 * file written with other bytes (see the top of this file) adds the revision it was written with. The bundle's
 * own revision is never among them: only a torn write (or a file from a version that wrote the list first)
 * puts it there, and it would refuse the very copy it was saved with. `exclude`: the signing config's
 * exclude_files, which a bundle without a manifest revision is named without.
 */
export async function readPersistedRevisions(bundlePath: string, bytes: Uint8Array, exclude: string[] = []): Promise<string[]> {
  let doc: Partial<RevisionsFile>;
  try {
    doc = JSON.parse(await readFile(revisionsPath(bundlePath), "utf8")) as Partial<RevisionsFile>;
  } catch {
    return [];
  }
  const previous = Array.isArray(doc.previous_revisions) ? doc.previous_revisions.filter((r): r is string => typeof r === "string") : [];
  const stale = typeof doc.sha256 === "string" && typeof doc.revision === "string" && doc.sha256 !== sha256(bytes);
  const remembered = stale ? [...previous, doc.revision!] : previous;
  const own = namesOf(bytes, exclude);
  return remembered.filter((r) => !own.includes(r));
}

/**
 * The revision the store will give the bundle and its content digest (the name the history gives a bundle that a
 * later build of its revision replaced), read without verifying it (the store does that when it installs).
 */
function namesOf(bytes: Uint8Array, exclude: string[]): string[] {
  try {
    const b = readBundle(bytes, { exclude });
    return [b.revision, b.content];
  } catch {
    return [];
  }
}
