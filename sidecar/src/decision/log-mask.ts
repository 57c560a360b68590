/**
 * OPA's system.log.mask semantics: the policy returns JSON pointers to erase, or
 * {op: "upsert", path, value} objects, applied to the logged event (paths start at /input or /result).
 */
export interface MaskOps {
  erase: string[];
  upsert: { path: string; value: unknown }[];
}

export function parseMaskOps(value: unknown): MaskOps {
  const ops: MaskOps = { erase: [], upsert: [] };
  if (!Array.isArray(value)) return ops;
  for (const item of value) {
    if (typeof item === "string") ops.erase.push(item);
    else if (item && typeof item === "object") {
      const o = item as { op?: unknown; path?: unknown; value?: unknown };
      if (typeof o.path !== "string") continue;
      if (o.op === "remove") ops.erase.push(o.path);
      else if (o.op === "upsert") ops.upsert.push({ path: o.path, value: o.value });
    }
  }
  return ops;
}

function tokens(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/**
 * Applies ops to `doc` (an object with `input` and `result`), copy on write: every object or array on
 * the way to a changed member is replaced in `doc` by a shallow copy, so what `doc` shared with the
 * decision's own input is never changed, and nothing else is copied. Returns what was erased and masked.
 */
export function applyMaskOps(doc: Record<string, unknown>, ops: MaskOps): { erased: string[]; masked: string[] } {
  const erased: string[] = [];
  const masked: string[] = [];
  const copied = new WeakSet<object>([doc]);
  // Every target is found before any is removed: removing an array member first would shift the indexes the
  // other paths name (erasing statement 0 and then statements/1/sql would erase the text of what was statement 2).
  const members: { parent: unknown[]; index: number }[] = [];
  for (const path of ops.erase) {
    const keys = tokens(path);
    const last = keys.pop();
    const parent = walk(doc, keys, false, copied);
    if (last === undefined || !parent || !(last in parent)) continue;
    if (Array.isArray(parent)) members.push({ parent, index: Number(last) });
    else delete (parent as Record<string, unknown>)[last];
    erased.push(path);
  }
  for (const { path, value } of ops.upsert) {
    const keys = tokens(path);
    const last = keys.pop();
    const parent = walk(doc, keys, true, copied);
    if (last === undefined || !parent || Array.isArray(parent)) continue;
    (parent as Record<string, unknown>)[last] = value;
    masked.push(path);
  }
  // Array members last (after the upserts, which name members by the indexes the mask saw), the highest index
  // of each array first; a member named twice is removed once.
  members.sort((a, b) => b.index - a.index);
  const removed = new Map<unknown[], Set<number>>();
  for (const { parent, index } of members) {
    let done = removed.get(parent);
    if (!done) removed.set(parent, (done = new Set()));
    if (done.has(index)) continue;
    done.add(index);
    parent.splice(index, 1);
  }
  return { erased, masked };
}

/** The container at `keys`, each step a copy of its own (made once per doc); undefined when absent. */
function walk(doc: Record<string, unknown>, keys: string[], create: boolean, copied: WeakSet<object>): Record<string, unknown> | unknown[] | undefined {
  let node: Record<string, unknown> | unknown[] = doc;
  for (const key of keys) {
    const rec = node as Record<string, unknown>;
    let child = rec[key];
    if (child === undefined && create && !Array.isArray(node)) child = {};
    if (!child || typeof child !== "object") return undefined;
    if (!copied.has(child)) {
      child = Array.isArray(child) ? [...(child as unknown[])] : { ...(child as Record<string, unknown>) };
      copied.add(child as object);
      rec[key] = child;
    }
    node = child as Record<string, unknown> | unknown[];
  }
  return node;
}
