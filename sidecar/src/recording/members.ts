// Objects a recording rebuilds from what an agent sent (a request body, MCP arguments, a query), with names
// rewritten on the way (a detector redacts `a@example.com` to `****`, a secret scrubbed from a name). Two
// pitfalls would drop a member the agent sent, so that the recording shows less than the upstream got:
// assigning `out["__proto__"] = v` sets the prototype instead of adding a member (left out of the JSON), and
// two names rewritten to the same text would keep only the last value. Every member is kept: as an own
// property whatever its name, and a name already taken gets ` (2)`, ` (3)`… so both values are there.

/** Per object, the next suffix to try for each name met twice: thousands of names redacted alike stay linear. */
const nextSuffix = new WeakMap<object, Map<string, number>>();

/** Adds `key: value` to `out` as its own member; a key already there is suffixed until it is free. */
export function putMember(out: Record<string, unknown>, key: string, value: unknown): void {
  let name = key;
  if (Object.prototype.hasOwnProperty.call(out, name)) {
    let suffixes = nextSuffix.get(out);
    if (!suffixes) nextSuffix.set(out, (suffixes = new Map()));
    let n = suffixes.get(key) ?? 2;
    for (name = `${key} (${n})`; Object.prototype.hasOwnProperty.call(out, name); ) name = `${key} (${++n})`;
    suffixes.set(key, n + 1);
  }
  Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
}
