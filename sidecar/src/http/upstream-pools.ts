// A route's upstream connections, kept apart by who reads what arrives on them. An upstream that writes past
// a response's end (a miscounted Content-Length, a body after a 204) leaves bytes that no request asked for;
// undici closes a pooled connection that receives them while idle (pool.ts), but bytes that arrive after the
// connection was handed to the next request are read as that request's answer, and its own answer goes to
// the request after. Nothing on the wire tells such bytes from an answer. So a connection is only ever reused
// for the same agent under the same mask rules: whatever one agent's answer left behind can reach no other
// agent, and is masked by the very rules its own answer was masked by (the credential guard scrubs it, like
// any answer). Connections are still reused across an agent's requests, which is what keep-alive buys.

import type { ResponseMasker } from "./masker.js";
import { UpstreamPool, type UpstreamPoolOptions } from "./pool.js";

/** Pools kept per route; past this, the least recently used one is closed once its requests are answered. */
const MAX_POOLS = 256;

/** A number per rule set (Maskers hands out one masker per set): the pool key names the rules, not a copy. */
const ruleIds = new WeakMap<ResponseMasker, number>();
let nextRuleId = 0;

function ruleId(masker: ResponseMasker | undefined): number {
  if (!masker) return 0;
  let id = ruleIds.get(masker);
  if (id === undefined) {
    id = ++nextRuleId;
    ruleIds.set(masker, id);
  }
  return id;
}

export class UpstreamPools {
  readonly #pools = new Map<string, UpstreamPool>();

  constructor(
    readonly origin: string,
    private readonly options: UpstreamPoolOptions,
  ) {}

  /** The pool for `subject`'s requests under `masker`'s rules (undefined: unmasked). */
  for(subject: string, masker: ResponseMasker | undefined): UpstreamPool {
    // The rule id comes first and is digits: whatever a subject holds, the key splits one way only.
    const key = `${ruleId(masker)}\0${subject}`;
    let pool = this.#pools.get(key);
    if (pool) {
      // Most recently used last, so eviction takes the one idle longest.
      this.#pools.delete(key);
    } else {
      pool = new UpstreamPool(this.origin, this.options);
      if (this.#pools.size >= MAX_POOLS) {
        const [oldest, evicted] = this.#pools.entries().next().value as [string, UpstreamPool];
        this.#pools.delete(oldest);
        evicted.close();
      }
    }
    this.#pools.set(key, pool);
    return pool;
  }

  destroy(): void {
    for (const p of this.#pools.values()) p.destroy();
    this.#pools.clear();
  }
}
