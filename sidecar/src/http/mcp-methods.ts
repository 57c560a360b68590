// The methods MCP defines, and what a loose reader takes for one (mcp-readings.ts says who reads so).

/** The methods MCP defines (protocol 2025-11-25), as each is spelled; keyed by the folded spelling. */
const METHODS = new Map(
  [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/message",
    "notifications/roots/list_changed",
    "notifications/tasks/status",
    "notifications/resources/updated",
    "notifications/resources/list_changed",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/elicitation/complete",
  ].map((m) => [m.toLowerCase(), m]),
);

/** Namespaces of MCP methods: a method in one is MCP's even where this version does not define it yet. */
const NAMESPACES = ["tools/", "resources/", "prompts/", "completion/", "logging/", "tasks/", "sampling/", "elicitation/", "roots/", "notifications/"];

/** The method as a loose reader may take it: a string, or an array a property lookup joins into one. */
function looseText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return String(v);
  return undefined;
}

/**
 * Characters a server's fold may drop: every language trims its own set (Python's str.strip() also drops
 * \x1c-\x1f and \x85, JavaScript's trim() drops \ufeff), so any whitespace, control or format character,
 * wherever it stands, is dropped here: no MCP method has one.
 */
const LOOSE = /[\p{White_Space}\p{Cc}\p{Cf}]/gu;
/** The same, for a test: without the global flag, whose lastIndex would carry from one call to the next. */
const HAS_LOOSE = new RegExp(LOOSE.source, "u");

/**
 * The method as the loosest server reads it: NFKC (fullwidth `ｔｏｏｌｓ` is `tools`), case folded fully
 * (upper then lower: the long s `ſ` is `s`, as Python's casefold() and Go's strings.EqualFold read it),
 * without combining marks (the full lower case of the dotted capital `İ` is `i` and a dot above, while the
 * simple one a server folding a char at a time uses, .NET's ToLowerInvariant or Java's equalsIgnoreCase,
 * is `i`: `İnitialize` is initialize there) and without LOOSE characters. Folding more than any one server
 * only widens what is refused: no MCP method has a mark.
 */
const folded = (s: string): string =>
  // Printable ASCII (every method a client sends) only has its case to fold; the rest is not on the hot path.
  PRINTABLE_ASCII.test(s) ? s.toLowerCase() : s.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKD").replace(MARKS, "").normalize("NFKC").replace(LOOSE, "");

const MARKS = /\p{M}/gu;

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/** Whether `method` holds a character some server drops or stops at (a NUL ends a C string): no method has one. */
export function holdsLoose(method: string): boolean {
  return !PRINTABLE_ASCII.test(method) && HAS_LOOSE.test(method);
}

/**
 * Whether the text before `method`'s first NUL names an MCP method: a server reading C strings stops there, and
 * `initialize\u0000x`, which folds to no method, is initialize to it. (Only the NUL: an API's own `"ping me"` passes.)
 */
export function namesMcpMethodBeforeNul(method: string): boolean {
  const at = method.indexOf("\u0000");
  return at >= 0 && namesMcpMethod(method.slice(0, at));
}

/** MCP's own spelling of the method `method` folds and trims to; undefined for a method MCP does not define. */
export function canonicalMethod(method: string): string | undefined {
  return METHODS.get(folded(method));
}

/** Whether `method`, read as loosely as some server reads it, names an MCP method. */
export function namesMcpMethod(method: unknown): boolean {
  const text = looseText(method);
  if (text === undefined) return false;
  const f = folded(text);
  return METHODS.has(f) || NAMESPACES.some((n) => f.startsWith(n));
}
