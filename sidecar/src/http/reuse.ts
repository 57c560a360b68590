// Decision reuse on the HTTP path: the policy's `cache` directive, as on the Postgres path (docs/policy.md).

import type { Decision, PolicyInput } from "../decision/types.js";
import { httpInputJson, type SerialisedInput } from "./input-json.js";

export type { SerialisedInput } from "./input-json.js";

/** Distinct inputs kept; the oldest goes first. Keys are most of the input's JSON (about a kilobyte each). */
const CAPACITY = 1024;
/**
 * Inputs whose key is longer than this (characters; a body of tens of kilobytes parsed into the input) are
 * decided each time: kept, 1,024 of them could hold up to http.limits.max_input_body_bytes each, and requests
 * that large are rarely repeated byte for byte. Bounds the cache near 16 MB of keys.
 */
export const MAX_KEY_CHARS = 16 * 1024;

interface Entry {
  decision: Decision;
  expires: number;
}

/**
 * The input's JSON and its reuse key: input-json.ts's one-pass writer for the HTTP adapter's inputs (the key a
 * slice of the JSON), else genericInputJson. Both are generic over the input's members
 * (whatever to-input.ts adds is in both), except the parts a reusable HTTP decision lets vary: `time`, and
 * in `session` its `id`, `started_at` and the client's `port`, which are in the JSON only. The JSON holds
 * the same members as `JSON.stringify(input)`, with `time` and `session` (and in it `id`, `started_at`,
 * `client`) first.
 */
export function serialiseInput(input: PolicyInput): SerialisedInput {
  return httpInputJson(input) ?? genericInputJson(input);
}

/** serialiseInput for an input of any shape (input-json.ts writes those of the HTTP adapter's shape). */
export function genericInputJson(input: PolicyInput): SerialisedInput {
  const { time, session, ...rest } = input;
  const restJson = JSON.stringify(rest);
  const timeMember = timeJson(time);
  if (session === undefined) return { json: withMembers([timeMember], restJson), key: restJson };
  const { id, started_at, client, ...who } = session;
  const whoJson = JSON.stringify(who);
  let place = "";
  if (client !== undefined) {
    const { port: _port, ...where } = client;
    place = JSON.stringify(where);
  }
  const sessionJson = withMembers([member("id", id), member("started_at", started_at), member("client", client)], whoJson);
  return {
    json: withMembers([timeMember, `"session":${sessionJson}`], restJson),
    key: `${restJson}\u0000${whoJson}\u0000${place}`,
  };
}

/** The last `time` member serialised: timeInput hands out one frozen object per millisecond. */
let lastTime: { value: unknown; json: string | undefined } = { value: undefined, json: undefined };

function timeJson(time: unknown): string | undefined {
  if (time === lastTime.value && time !== undefined && Object.isFrozen(time)) return lastTime.json;
  const json = member("time", time);
  lastTime = { value: time, json };
  return json;
}

/** `"name":value`, or undefined where JSON.stringify would leave the member out. */
function member(name: string, value: unknown): string | undefined {
  const v = JSON.stringify(value) as string | undefined;
  return v === undefined ? undefined : `"${name}":${v}`;
}

/** An object's JSON with members put in front of those it has. */
function withMembers(first: (string | undefined)[], objectJson: string): string {
  const head = first.filter((m) => m !== undefined).join(",");
  const tail = objectJson.slice(1, -1);
  return `{${head}${head && tail ? "," : ""}${tail}}`;
}

/**
 * Decisions the policy declared reusable, shared by every request of the gateway. Each HTTP request is its
 * own session, so an entry can only ever hit if the directive lets both the clock (`time`) and the request's
 * own identity (`request`: `session.id`, `session.started_at`, `session.client.port`) vary; a decision that
 * does not list both is never kept. The key is the JSON of everything else in the input: the principal, the
 * client's address, the route, the effective and request-line methods, the canonical and raw path, the
 * query, every header the policy sees and the body's facts. Other parts named in `across` (`parameters`,
 * `budget`) stay in the key: stricter than the directive, never looser. The pipeline checks the bundle
 * revision and logs every reuse as a decision of its own (`reused_from`); a lock or a recording failure
 * still turns a reused allow into a deny there, and such a deny is never kept.
 */
export class HttpDecisionReuse {
  readonly #map = new Map<string, Entry>();
  #last: { key: string; entry: Entry } | undefined;

  /** The decision kept for this key, if it has not expired. */
  lookup(key: string, now = Date.now()): Decision | undefined {
    if (this.#map.size === 0) return undefined;
    // The last key found, compared first: an agent repeating one request skips hashing its ~700 characters.
    const last = this.#last;
    const e = last !== undefined && last.key === key && this.#map.get(last.key) === last.entry ? last.entry : this.#map.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#map.delete(key);
      return undefined;
    }
    if (last === undefined || last.entry !== e) this.#last = { key, entry: e };
    return e.decision;
  }

  /**
   * Keeps an evaluated allow or deny the policy marked reusable across time and requests. Never a
   * fail-closed error, an adapter veto, a dry run, a reuse, or an approval (each approval is its own
   * evaluation: hold.ts files one per decision).
   */
  keep(key: string, decision: Decision, now = Date.now()): void {
    if (decision.reused_from !== undefined || key.length > MAX_KEY_CHARS) return;
    const c = decision.cache;
    const reusable = c !== undefined && decision.error_code === undefined && !decision.dry_run && decision.outcome !== "approve" && c.across.includes("time") && c.across.includes("request");
    if (!reusable) {
      // A new revision may have dropped the directive: the old entry must not make every request try it.
      this.#map.delete(key);
      return;
    }
    if (this.#map.size >= CAPACITY && !this.#map.has(key)) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, { decision, expires: now + c.ttl_seconds * 1000 });
  }

  get size(): number {
    return this.#map.size;
  }
}
