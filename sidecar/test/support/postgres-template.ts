// A cluster's data directory built once and copied for every server that wants the same one.
//
// initdb and the demo load cost seconds of CPU per server, and the suite starts over a hundred of them; a
// copy of a stopped cluster's directory costs a fraction of that. Templates live under the temp dir, keyed
// by everything that shapes them (binaries, demo SQL, the set-up code), so a change builds a new one and
// runs side by side (two vitest workers, several checkouts) share or race harmlessly: each builds in a
// directory of its own and the first rename wins.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(tmpdir(), "regate-pg-templates");
const READY = "ready";
const building = new Map<string, Promise<string>>();

/**
 * The directory of template `key`, built by `build(dir)` if there is none yet. `build` gets an empty
 * directory that the server's OS user can traverse (0711) and leaves the template in it.
 */
export function template(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  let pending = building.get(key);
  if (pending === undefined) {
    pending = ensure(key, build);
    building.set(key, pending);
    pending.catch(() => building.delete(key)); // a failed build is tried again by the next server
  }
  return pending;
}

async function ensure(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const final = join(ROOT, key);
  if (existsSync(join(final, READY))) return final;
  await mkdir(ROOT, { recursive: true });
  await chmod(ROOT, 0o711);
  const work = await mkdtemp(join(ROOT, `${key}.building-`));
  try {
    await chmod(work, 0o711);
    await build(work);
    await writeFile(join(work, READY), "");
    try {
      await rename(work, final);
    } catch (error) {
      if (!existsSync(join(final, READY))) throw error; // not another builder that got there first
    }
    return final;
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 5 });
  }
}
