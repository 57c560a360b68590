import { spawn } from "node:child_process";

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking the event loop: regate under test runs in this same process,
 * so a synchronous psql would wait forever for a server that cannot answer.
 */
export function exec(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    // A child that exits without reading its input (it failed early, or never reads stdin) closes the pipe:
    // its status and output say what happened, and the EPIPE is no error of the test's.
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(err);
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Like exec, but rejects unless the command exits 0; resolves stdout. */
export async function execOk(cmd: string, args: string[], opts: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
