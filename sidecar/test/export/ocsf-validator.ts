// Runs the pinned OCSF validator (ocsf-emitter from PyPI, OCSF 1.5.0) over events; installs it on first use.

import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { packageRoot } from "../../src/paths.js";

const run = promisify(execFile);
const PYTHON = join(packageRoot, "build", "ocsf-venv", "bin", "python");

/** Idempotent: about a second when the venv matches sidecar/test/export/requirements.txt. */
export async function setupValidator(): Promise<void> {
  await run("bash", [join(packageRoot, "scripts", "ocsf-validator-setup.sh")], { timeout: 300_000 });
}

export interface Verdict {
  ok: boolean;
  errors?: string[];
}

/** One verdict per event, in order. */
export function validateOcsf(events: unknown[]): Promise<Verdict[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(packageRoot, "sidecar", "test", "export", "ocsf_validate.py")], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`ocsf validator exited ${code}: ${err}`));
      const verdicts = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Verdict);
      if (verdicts.length !== events.length) return reject(new Error(`validator answered ${verdicts.length} of ${events.length} events: ${err}`));
      resolve(verdicts);
    });
    // A validator that dies before reading everything closes the pipe: its exit, above, says why.
    child.stdin.on("error", () => undefined);
    child.stdin.end(events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  });
}
