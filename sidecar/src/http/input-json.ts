// An HTTP input's JSON and its reuse key, written in one pass (reuse.ts keeps decisions under the key).

import type { PolicyInput, SessionInput, TimeInput } from "../decision/types.js";

/** The input as the policy gets it (`json`), and its key for reuse: everything but the parts a reuse lets vary. */
export interface SerialisedInput {
  json: string;
  key: string;
}

const CHECK = process.env["CHECK_REGATE_INPUT_JSON"] === "1";

/**
 * The input's JSON with the parts a reusable HTTP decision lets vary written first: `time`, then in `session`
 * its `id` and `started_at`, then in `session.client` its `port`
 * (`{"time":…,"session":{"id":…,"started_at":…,"client":{"port":…`). Every other member follows, in the
 * object's order, and that rest of the text is the key: a slice of the text the policy evaluates, so the key
 * covers every member the input has, whatever to-input.ts adds. The prefix's shape is fixed (a JSON value,
 * two JSON strings, an integer), so two inputs with one key differ in those four parts only; such a key
 * starts with "," or "}", never with "{" as reuse.ts's generic keys do. Undefined for an input of another
 * shape (no session, no id, start or client port): reuse.ts serialises it generically.
 *
 * Members are serialised by JSON.stringify one by one (on Node 20 it beats writing them from JavaScript), but
 * not the parts that repeat: the clock (one frozen object per millisecond; its `now_ns`, a double near 1.8e18,
 * alone took about 0.8 µs to format) and a principal frozen all the way down (a static token's) are
 * serialised once. CHECK_REGATE_INPUT_JSON=1 (the test suite sets it) compares the text with
 * JSON.stringify(input) and throws on any difference but the members' order.
 */
export function httpInputJson(input: PolicyInput): SerialisedInput | undefined {
  const session = input.session as SessionInput | undefined;
  if (session === undefined || session === null || typeof session !== "object") return undefined;
  const { id, started_at, client } = session;
  if (typeof id !== "string" || typeof started_at !== "string" || client === undefined || client === null || typeof client !== "object") return undefined;
  const port = client.port;
  if (!Number.isSafeInteger(port)) return undefined;
  const time = timeJson(input.time);
  if (time === undefined) return undefined;
  const prefix = `{"time":${time},"session":{"id":${str(id)},"started_at":${str(started_at)},"client":{"port":${port}`;
  let rest = "";
  for (const k in client) {
    if (k !== "port") rest += member(k, (client as unknown as Record<string, unknown>)[k]);
  }
  rest += "}";
  for (const k in session) {
    if (k === "id" || k === "started_at" || k === "client") continue;
    const v = (session as unknown as Record<string, unknown>)[k];
    rest += k === "principal" ? principalMember(v) : member(k, v);
  }
  rest += "}";
  for (const k in input) {
    if (k !== "time" && k !== "session") rest += member(k, (input as unknown as Record<string, unknown>)[k]);
  }
  rest += "}";
  const json = prefix + rest;
  if (CHECK) check(input, json);
  return { json, key: rest };
}

/** `,"name":value`; nothing where JSON.stringify leaves the member out. */
function member(name: string, value: unknown): string {
  const v = JSON.stringify(value) as string | undefined;
  return v === undefined ? "" : `,${str(name)}:${v}`;
}

/** Principals frozen all the way down (a static token's, shared by its every request), serialised once. */
const principals = new WeakMap<object, string>();

function principalMember(p: unknown): string {
  if (p === null || typeof p !== "object" || !Object.isFrozen(p)) return member("principal", p);
  let m = principals.get(p);
  if (m === undefined) {
    m = member("principal", p);
    if (deepFrozen(p)) principals.set(p, m);
  }
  return m;
}

function deepFrozen(v: unknown): boolean {
  if (v === null || typeof v !== "object") return true;
  if (!Object.isFrozen(v)) return false;
  for (const k of Object.keys(v)) if (!deepFrozen((v as Record<string, unknown>)[k])) return false;
  return true;
}

/** A string as JSON: as is between quotes when nothing in it needs an escape (ids, times, addresses). */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** The last `time` member serialised: timeInput hands out one frozen object per millisecond. */
let lastTime: { value: TimeInput | undefined; json: string | undefined } = { value: undefined, json: undefined };

function timeJson(time: TimeInput | undefined): string | undefined {
  if (time === undefined || time === null || typeof time !== "object") return undefined;
  if (time === lastTime.value && Object.isFrozen(time)) return lastTime.json;
  const json = JSON.stringify(time) as string | undefined;
  lastTime = { value: time, json };
  return json;
}

function check(input: PolicyInput, json: string): void {
  const expected = JSON.stringify(input);
  if (json.length !== expected.length || !sameJson(JSON.parse(json), JSON.parse(expected))) {
    throw new Error(`httpInputJson differs from JSON.stringify(input):\n${json}\n${expected}`);
  }
}

/** Deep equality of parsed JSON, the members' order aside. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
