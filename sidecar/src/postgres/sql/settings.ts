// Session setting changes: SET / RESET / SET LOCAL, set_config(), BEGIN options, DISCARD ALL.
// Values are rendered the way PostgreSQL stores them, so the session tracker can apply them.
import type { FactsBuilder } from "./facts.js";
import { constantOf, constText, list, nameList, rec, str, unwrap, type Rec } from "./node.js";

// GUCs flagged GUC_LIST_QUOTE: list elements are stored quoted as identifiers.
const LIST_QUOTE = new Set(["search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries", "shared_preload_libraries"]);
const ROLE_SETTINGS = new Set(["role", "session_authorization"]);
// Settings whose new value regate must know to read later statements: a set_config() of one of these
// (or of a name that is not a constant) with a value that is not a constant is unknown.
const VALUE_NEEDED = new Set(["*", "search_path", "client_encoding", "standard_conforming_strings", ...ROLE_SETTINGS]);

function quoteIdent(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

function renderArgs(name: string, args: unknown[]): string | null | undefined {
  const parts: string[] = [];
  for (const a of args) {
    const c = constantOf(a);
    if (!c) return undefined;
    const t = constText(c);
    if (t === null) return null;
    parts.push(c.type === "string" && LIST_QUOTE.has(name) ? quoteIdent(t) : t);
  }
  return parts.join(", ");
}

function note(facts: FactsBuilder, name: string): void {
  if (ROLE_SETTINGS.has(name)) facts.roleChange = true;
}

export function variableSet(b: Rec, facts: FactsBuilder): void {
  const kind = str(b.kind) ?? "";
  const rawName = str(b.name) ?? "";
  const name = rawName.toLowerCase();
  const local = b.is_local === true;
  switch (kind) {
    case "VAR_SET_VALUE": {
      const value = renderArgs(name, list(b.args));
      if (value === undefined) facts.addUnknown(`value of SET ${name} is not a constant`);
      facts.settings.push({ name, value: value ?? null, action: "set", local });
      break;
    }
    case "VAR_SET_DEFAULT":
    case "VAR_RESET":
      facts.settings.push({ name, value: null, action: "reset", local });
      break;
    case "VAR_SET_CURRENT":
      facts.settings.push({ name, value: null, action: "set", local });
      break;
    case "VAR_RESET_ALL":
      facts.settings.push({ name: "all", value: null, action: "reset", local: false });
      return;
    case "VAR_SET_MULTI":
      multi(rawName, list(b.args), facts);
      return;
    default:
      facts.addUnknown(`SET form ${kind} is not modelled`);
      return;
  }
  note(facts, name);
}

/** SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ..., SET TRANSACTION SNAPSHOT. */
function multi(name: string, args: unknown[], facts: FactsBuilder): void {
  if (name === "TRANSACTION SNAPSHOT") {
    const c = args[0] === undefined ? undefined : constantOf(args[0]);
    facts.settings.push({ name: "transaction_snapshot", value: c ? constText(c) : null, action: "set", local: true });
    return;
  }
  const session = name === "SESSION CHARACTERISTICS";
  transactionOptions(args, facts, session);
}

/** Options of BEGIN / START TRANSACTION / SET TRANSACTION, as the GUCs they set. */
export function transactionOptions(options: unknown[], facts: FactsBuilder, session = false): void {
  for (const o of options) {
    const d = unwrap(o);
    if (!d || d[0] !== "DefElem") continue;
    const defname = str(d[1].defname) ?? "";
    const c = constantOf(d[1].arg);
    let value = c ? constText(c) : null;
    if (c && c.type === "number" && defname !== "transaction_isolation") value = c.value === "0" ? "off" : "on";
    facts.settings.push({ name: session ? `default_${defname}` : defname, value, action: "set", local: !session });
  }
}

/** PostgreSQL's parse_bool: unique prefixes of true/false/yes/no, on/off, 1/0. */
function parseBool(s: string): boolean | undefined {
  const v = s.trim().toLowerCase();
  if (v === "") return undefined;
  if ("true".startsWith(v) || "yes".startsWith(v) || v === "on" || v === "1") return true;
  if ("false".startsWith(v) || "no".startsWith(v) || (v.length >= 2 && "off".startsWith(v)) || v === "0") return false;
  return undefined;
}

/**
 * set_config(name, value, is_local) anywhere in a statement. In a definition (`deferred`) it may run
 * later or never, so the value is reported unknown rather than as the session's new value.
 */
export function setConfigCall(args: unknown[], facts: FactsBuilder, deferred: boolean): void {
  if (args.length !== 3) return;
  if (deferred) {
    const nc = constantOf(args[0]);
    const name = nc?.type === "string" ? nc.value.toLowerCase() : "*";
    facts.addUnknown("set_config() in a definition: whether and when it runs is not known");
    facts.settings.push({ name, value: null, action: "set_config", local: false });
    if (name === "*" || ROLE_SETTINGS.has(name)) facts.roleChange = true;
    return;
  }
  const [nameArg, valueArg, localArg] = args;
  const nc = constantOf(nameArg);
  let name = "*";
  if (nc && nc.type === "string") name = nc.value.toLowerCase();
  else facts.addUnknown("set_config() name is not a constant");
  const vc = constantOf(valueArg);
  let value: string | null = null;
  if (vc) value = constText(vc);
  // The value is the policy's to judge by name (null: any value, as for SET ... FROM CURRENT), except
  // where regate itself must know it: where later names resolve, how SQL text reads, who runs it.
  else if (VALUE_NEEDED.has(name)) facts.addUnknown("set_config() value is not a constant");
  const lc = constantOf(localArg);
  let local: boolean | undefined;
  if (lc?.type === "bool") local = lc.value;
  else if (lc && (lc.type === "string" || lc.type === "number")) local = parseBool(lc.value);
  if (local === undefined) facts.addUnknown("set_config() is_local is not a constant");
  facts.settings.push({ name, value, action: "set_config", local: local ?? false });
  if (name === "*" || ROLE_SETTINGS.has(name)) facts.roleChange = true;
}

/**
 * The setting current_setting() reads, as PostgreSQL looks it up (case-insensitively): a string constant, bare
 * or cast to text; "*" otherwise. A cast with a length (`'primary_conninfo_x'::varchar(16)`) or to "char"
 * would cut the text to another name, and any other expression is only known when it runs.
 */
export function settingNameArg(arg: unknown): string {
  let u = unwrap(arg);
  if (u && u[0] === "TypeCast") {
    const type = rec(u[1].typeName);
    const names = nameList(type?.names) ?? [];
    const plainText = names.length > 0 && names[names.length - 1] === "text" && list(type?.typmods).length === 0 && list(type?.arrayBounds).length === 0;
    u = plainText ? unwrap(u[1].arg) : undefined;
  }
  if (!u || u[0] !== "A_Const") return "*";
  const c = constantOf({ A_Const: u[1] });
  return c?.type === "string" ? c.value.toLowerCase() : "*";
}

/** SHOW name (SHOW ALL: "*"), as PostgreSQL looks it up. */
export function showName(name: string): string {
  const n = name.toLowerCase();
  return n === "all" ? "*" : n;
}

/** DISCARD ALL runs SET SESSION AUTHORIZATION DEFAULT and RESET ALL among others. */
export function discard(b: Rec, facts: FactsBuilder): void {
  if (str(b.target) !== "DISCARD_ALL") return;
  facts.settings.push({ name: "session_authorization", value: null, action: "reset", local: false });
  facts.settings.push({ name: "all", value: null, action: "reset", local: false });
  facts.roleChange = true;
}

/**
 * A search_path value as the server reports or stores it -> schema names (SplitIdentifierString:
 * unquoted names are down-cased, quoted ones kept, "" for an empty list). Null if malformed.
 */
export function parseSearchPath(value: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(value[i] as string)) i++;
  };
  skipSpace();
  if (i === n) return out;
  for (;;) {
    skipSpace();
    let name = "";
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return null;
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            name += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += value[i];
        i++;
      }
      if (name === "") return null;
    } else {
      const start = i;
      while (i < n && value[i] !== "," && !/\s/.test(value[i] as string)) i++;
      if (i === start) return null;
      name = value.slice(start, i).toLowerCase();
    }
    out.push(name);
    skipSpace();
    if (i >= n) return out;
    if (value[i] !== ",") return null;
    i++;
  }
}

