// Waiting in tests for something that happens asynchronously (a hold notice, a backend leaving
// pg_stat_activity), with a bound, instead of sleeping a fixed time.

/** Polls `get` every 25 ms until it gives a value (not undefined or false); throws after `ms`. */
export async function until<T>(get: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls `check` every 100 ms for up to `ms`; whether it held (for an assertion that names what failed). */
export async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/**
 * Polls `ready` every `everyMs` until it holds, with no bound of its own: the test's timeout is the bound. For
 * what only a loaded machine delays (a log line, an answer), where a bound of a few seconds is a flake.
 */
export async function whenTrue(ready: () => boolean | Promise<boolean>, everyMs = 10): Promise<void> {
  while (!(await ready())) await new Promise((r) => setTimeout(r, everyMs));
}
