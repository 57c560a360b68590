// The input carries some values twice: an MCP message's `arguments` are a piece of `parsed_body`, `parsed_query`
// is `query` decoded, `content_type` is a header. A log mask that names one copy (the example's names
// `parsed_body` only) left the others in the decision log, and from there in the SIEM export and the recordings.
// So when the mask erases or rewrites anything of one copy, every other copy it does not name itself is erased
// whole: what the mask hid of a source is hidden wherever the input repeats it.

import type { MaskOps } from "./log-mask.js";

/**
 * Members of the logged event that hold the same values, as pointer tokens. "*" is one array index, bound to
 * the same index in every member of its group (the statement whose text the mask hid).
 */
const COPIES: readonly (readonly (readonly string[])[])[] = [
  // The body, as JSON or a form, as text, and the JSON-RPC messages read from it (tool, arguments, uri, prompt).
  [
    ["input", "http", "parsed_body"],
    ["input", "http", "body"],
    ["input", "http", "mcp"],
    ["input", "http", "mcp_batch"],
  ],
  [
    ["input", "http", "query"],
    ["input", "http", "parsed_query"],
  ],
  [
    ["input", "http", "raw_path"],
    ["input", "http", "path"],
    ["input", "http", "parsed_path"],
  ],
  [
    ["input", "http", "headers", "content-type"],
    ["input", "http", "content_type"],
  ],
  [
    ["input", "http", "headers", "host"],
    ["input", "http", "host"],
  ],
  // A statement's text, the parser's message (which can quote it) and the settings read from it (their values
  // are literals of the text).
  [
    ["input", "postgres", "statements", "*", "sql"],
    ["input", "postgres", "statements", "*", "parse_error"],
    ["input", "postgres", "statements", "*", "settings"],
  ],
];

const unescape = (t: string): string => t.replace(/~1/g, "/").replace(/~0/g, "~");
const escape = (t: string): string => t.replace(/~/g, "~0").replace(/\//g, "~1");

/**
 * How an operation's path meets a member: undefined when it neither contains nor lies inside it; else the index
 * "*" stood for ("" when the member has none, or when the path contains every index of it).
 */
function meets(path: readonly string[], member: readonly string[]): string | undefined {
  let bound = "";
  const n = Math.min(path.length, member.length);
  for (let i = 0; i < n; i++) {
    if (member[i] === "*") bound = path[i]!;
    else if (member[i] !== path[i]) return undefined;
  }
  return bound;
}

const memo = new WeakMap<MaskOps, MaskOps>();

/** The operations with the copies of what they hide erased as well (memoised: a reuse scope shares its operations). */
export function withCopies(ops: MaskOps): MaskOps {
  const known = memo.get(ops);
  if (known) return known;
  const paths = [...ops.erase, ...ops.upsert.map((u) => u.path)].map((p) => p.split("/").slice(1).map(unescape));
  const added = new Set<string>();
  for (const group of COPIES) {
    // For each index a "*" was bound to: the members some operation met.
    const met = new Map<string, Set<number>>();
    for (const path of paths) {
      group.forEach((member, m) => {
        const bound = meets(path, member);
        if (bound === undefined) return;
        // A path above the "*" (the whole statements array) covers every member of every index.
        const wildcard = member.indexOf("*");
        const key = wildcard >= 0 && path.length <= wildcard ? "\0all" : bound;
        let set = met.get(key);
        if (!set) met.set(key, (set = new Set()));
        set.add(m);
      });
    }
    for (const [bound, members] of met) {
      if (bound === "\0all") continue;
      group.forEach((member, m) => {
        if (members.has(m)) return;
        added.add("/" + member.map((t) => escape(t === "*" ? bound : t)).join("/"));
      });
    }
  }
  const out = added.size === 0 ? ops : { erase: [...added, ...ops.erase], upsert: ops.upsert };
  memo.set(ops, out);
  return out;
}
