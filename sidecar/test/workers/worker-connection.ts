// A connection to regate that the test knows lands on a given worker. The primary hands each new connection to
// the next worker that has taken its last one, so a busy worker is skipped and a loaded machine may send many
// in a row to the other: the search backs off and goes on until the test's own timeout ends it.
import { buildConnector, Client } from "undici";

/** Tries before giving up with a message; with the back-off this outlasts any test timeout. */
const TRIES = 200;
const BACKOFF_MAX_MS = 250;

/**
 * A client that uses one socket and never opens another. undici closes a keep-alive socket idle past the server's
 * `Keep-Alive: timeout` less 2 s (3 s against Node's default 5 s) and would open a new one on the next request, which
 * the primary may hand to either worker: such a request fails here instead of silently changing worker.
 */
export function oneSocketClient(origin: string, localAddress?: string): Client {
  // The Client hands its localAddress to the connector with each connect (one given to buildConnector is overridden).
  const connector = buildConnector({});
  let opened = false;
  return new Client(origin, {
    pipelining: 1,
    ...(localAddress ? { localAddress } : {}),
    connect: (opts, callback) => {
      if (opened) return void callback(new Error("the connection found on a worker was closed; a new one could land on either worker"), null);
      opened = true;
      connector(opts, callback);
    },
  });
}

/**
 * New connections to `origin`, one on each worker of `pids` in that order (as `whoami` tells it from the
 * upstream's side), to be used at once: an idle one is closed within seconds (see oneSocketClient). While the
 * others are searched for, each found one answers `whoami` again every try, which keeps it from going idle
 * and checks it is still the same; one that was closed is searched for again. The rest are destroyed.
 */
export async function connectionsOn(origin: string, pids: readonly number[], whoami: (c: Client) => Promise<number | undefined>, localAddress?: string): Promise<Client[]> {
  const found = new Map<number, Client>();
  const landed: (number | undefined)[] = [];
  for (let i = 0; i < TRIES; i++) {
    for (const [pid, c] of found) {
      if ((await whoami(c).catch(() => undefined)) === pid) continue;
      found.delete(pid);
      await c.destroy();
    }
    if (found.size === pids.length) return pids.map((pid) => found.get(pid)!);
    const c = oneSocketClient(origin, localAddress);
    const worker = await whoami(c).catch(() => undefined);
    if (worker !== undefined && pids.includes(worker) && !found.has(worker)) {
      found.set(worker, c);
      if (found.size === pids.length) return pids.map((pid) => found.get(pid)!);
      continue;
    }
    landed.push(worker);
    await c.destroy();
    await new Promise((resolve) => setTimeout(resolve, Math.min(25 * i, BACKOFF_MAX_MS)));
  }
  await Promise.all([...found.values()].map((c) => c.destroy()));
  throw new Error(`no connections landed on workers ${pids.join(", ")} in ${TRIES} tries (landed on: ${[...new Set(landed)].join(", ")})`);
}

/** A new connection to `origin` on worker `pid`, to be used at once (connectionsOn). */
export async function connectionOn(origin: string, pid: number, whoami: (c: Client) => Promise<number | undefined>, localAddress?: string): Promise<Client> {
  return (await connectionsOn(origin, [pid], whoami, localAddress))[0]!;
}
