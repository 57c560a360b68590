// Built-ins that read or write a relation named by an argument (`nextval('s')`, `setval('s', 1)`):
// the name is data to the grammar, so without this the statement would show no table at all and the
// policy's schema and write rules would never see the sequence it moves.
import { constValue, list, nameList, unwrap, type Rec } from "./node.js";
import { resolveName } from "./relations.js";
import type { Cx } from "./scope.js";
import type { Access } from "./types.js";

interface RelationArg {
  /** Position of the relation argument. */
  index: number;
  access: Access;
  /** The argument is text, not regclass: the server looks the relation up when the call runs. */
  text?: true;
}

/**
 * Functions that act on the rows or state of the relation they are given. Functions that only report
 * metadata (pg_relation_size, pg_table_size, has_table_privilege, pg_get_serial_sequence, ...) are
 * left out: they show what the catalog shows. Extension functions are listed under their usual names.
 */
export const RELATION_ARG_FUNCTIONS: ReadonlyMap<string, RelationArg> = new Map<string, RelationArg>([
  // Sequences: nextval and setval move the sequence; currval and the last-value functions read it.
  ["nextval", { index: 0, access: "write" }],
  ["setval", { index: 0, access: "write" }],
  ["currval", { index: 0, access: "read" }],
  ["pg_sequence_last_value", { index: 0, access: "read" }],
  ["pg_get_sequence_data", { index: 0, access: "read" }],
  // Index maintenance changes the index; pg_nextoid consumes OIDs for a catalog (superuser only).
  ["brin_summarize_range", { index: 0, access: "write" }],
  ["brin_summarize_new_values", { index: 0, access: "write" }],
  ["brin_desummarize_range", { index: 0, access: "write" }],
  ["gin_clean_pending_list", { index: 0, access: "write" }],
  ["pg_extension_config_dump", { index: 0, access: "write" }],
  ["pg_nextoid", { index: 0, access: "write" }],
  // pageinspect returns raw pages and index tuples (row values); pgrowlocks reads the table's rows.
  ["get_raw_page", { index: 0, access: "read", text: true }],
  ["bt_metap", { index: 0, access: "read", text: true }],
  ["bt_page_stats", { index: 0, access: "read", text: true }],
  ["bt_page_items", { index: 0, access: "read", text: true }],
  ["bt_multi_page_stats", { index: 0, access: "read", text: true }],
  ["pgrowlocks", { index: 0, access: "read", text: true }],
  // pg_surgery and pg_visibility change tuples or the visibility map in place.
  ["heap_force_kill", { index: 0, access: "write" }],
  ["heap_force_freeze", { index: 0, access: "write" }],
  ["pg_truncate_visibility_map", { index: 0, access: "write" }],
]);

/** Part of the unknown reason for a relation given by a column or an expression (a view over every sequence). */
export const NON_CONSTANT_RELATION = "is given its relation by a value regate cannot resolve";

// Casts that keep a constant's text as PostgreSQL will read it as a relation name. A length-limited
// type (`varchar(5)`, `char`) would cut the name, so it is not looked through.
const NAME_TYPES = new Set(["regclass", "text", "varchar", "name", "unknown"]);

/**
 * Records the relation a call in RELATION_ARG_FUNCTIONS acts on, resolved like a table name. An
 * argument that is not a constant (a column, a parameter, an expression) or an OID cannot be
 * resolved here: the statement is reported unknown rather than left without the table.
 */
export function relationArgument(name: string, args: readonly unknown[], cx: Cx): void {
  const spec = RELATION_ARG_FUNCTIONS.get(name);
  if (!spec || args.length <= spec.index) return;
  const serial = serialSequenceCall(args[spec.index]);
  if (serial !== undefined) {
    if (serial !== null) serialSequenceArgument(name, spec.access, serial, cx);
    return;
  }
  const text = constantName(args[spec.index]);
  if (text === null) return;
  if (text === undefined) {
    cx.facts.addUnknown(`${name}() ${NON_CONSTANT_RELATION} (write the name as a string constant)`);
    return;
  }
  // A reason apart from the one above: a template (constants as parameters) must not share these facts.
  const parts = parseQualifiedName(text);
  if (parts === undefined || parts.length > 3) {
    cx.facts.addUnknown(`${name}() is given an OID or a malformed relation name (write the name as schema.relation)`);
    return;
  }
  if (parts.length === 1 && (spec.text || castThroughText(args[spec.index]))) cx.facts.namesAtRun = true;
  // A three-part name must name the current database: the server refuses any other.
  const relname = parts[parts.length - 1] as string;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  // These act on the one relation named, never on its inheritance children (ONLY, in effect).
  cx.facts.addTable(resolveName(schema, relname, spec.access, cx.env, false, true).ref);
}

/**
 * `pg_get_serial_sequence('table', 'column')` with constant arguments, as ORMs pass it to setval and
 * nextval (Django's sequence reset): [table, column]; null when either is NULL (the call gives NULL and
 * the outer one does nothing); undefined for anything else.
 */
function serialSequenceCall(v: unknown): [string, string] | null | undefined {
  const call = unwrap(v);
  if (!call || call[0] !== "FuncCall") return undefined;
  const b = call[1];
  const fname = nameList(b.funcname) ?? [];
  const plain = b.agg_star !== true && b.agg_distinct !== true && b.func_variadic !== true && b.over === undefined && b.agg_filter === undefined && list(b.agg_order).length === 0;
  if (!plain || fname[fname.length - 1] !== "pg_get_serial_sequence" || fname.length > 2 || (fname.length === 2 && fname[0] !== "pg_catalog")) return undefined;
  const args = list(b.args);
  if (args.length !== 2) return undefined;
  const table = constantName(args[0]);
  const column = constantName(args[1]);
  if (table === undefined || column === undefined) return undefined;
  return table === null || column === null ? null : [table, column];
}

/**
 * The sequence pg_get_serial_sequence names, from the catalog: the table is resolved like any relation
 * name (and listed as read: its catalog entry says which sequence belongs to the column, as the server's
 * pg_depend does); the column is taken literally, as the server takes it. Without the catalog's answer
 * the statement is reported unknown.
 */
function serialSequenceArgument(fn: string, access: Access, [table, column]: [string, string], cx: Cx): void {
  const parts = parseQualifiedName(table);
  if (parts === undefined || parts.length > 3) {
    cx.facts.addUnknown(`${fn}() is given pg_get_serial_sequence() of a malformed table name`);
    return;
  }
  const relname = parts[parts.length - 1] as string;
  // pg_get_serial_sequence looks its table up when it runs (the sequence it gives carries its schema).
  if (parts.length === 1) cx.facts.namesAtRun = true;
  // Its catalog entry is read, not its rows, nor its children's.
  const resolved = resolveName(parts.length >= 2 ? parts[parts.length - 2] : undefined, relname, "read", cx.env, false, true);
  cx.facts.addTable(resolved.ref);
  const schema = resolved.ref.schema;
  const seq = schema !== null && resolved.columns !== undefined ? cx.env.catalog?.serialSequence?.(schema, relname, column) : undefined;
  if (seq === undefined) {
    cx.facts.addUnknown(`${fn}() is given pg_get_serial_sequence() of a table the catalog has not described`);
    return;
  }
  // No sequence belongs to that column: the call gives NULL (or fails), and nothing is moved.
  if (seq !== null) cx.facts.addTable(resolveName(seq.schema, seq.name, access, cx.env, false).ref);
}

/** The string a constant argument carries; null for NULL (the call does nothing); undefined when not a plain constant. */
function constantName(v: unknown): string | null | undefined {
  const u = unwrap(v);
  if (!u) return undefined;
  const [type, b] = u;
  if (type === "A_Const") {
    const c = constValue(b);
    if (c.type === "null") return null;
    return c.type === "string" ? c.value : undefined;
  }
  if (type === "TypeCast") {
    const tn = unwrap(b.typeName)?.[1] ?? (b.typeName as Rec | undefined);
    const names = nameList(tn?.names) ?? [];
    const last = names[names.length - 1];
    const plain = list(tn?.typmods).length === 0 && list(tn?.arrayBounds).length === 0 && tn?.setof !== true;
    if (!last || !plain || !NAME_TYPES.has(last) || (names.length === 2 && names[0] !== "pg_catalog") || names.length > 2) return undefined;
    return constantName(b.arg);
  }
  return undefined;
}

/**
 * Whether a constant name reaches its regclass argument through text (`'s'::text`, `::varchar`, `::name`): the
 * server then turns the text into a relation when the call runs, not when the statement is parsed, as it does
 * a bare literal or `'s'::regclass`.
 */
function castThroughText(v: unknown): boolean {
  const u = unwrap(v);
  if (!u || u[0] !== "TypeCast") return false;
  const tn = unwrap(u[1].typeName)?.[1] ?? (u[1].typeName as Rec | undefined);
  const names = nameList(tn?.names) ?? [];
  const last = names[names.length - 1];
  return (last !== "regclass" && last !== "unknown") || castThroughText(u[1].arg);
}

// NAMEDATALEN - 1: the server cuts longer identifiers to this many bytes.
const MAX_IDENTIFIER_BYTES = 63;

/**
 * A relation name as regclass input reads it (stringToQualifiedNameList): dot-separated identifiers,
 * double quotes with "" inside, unquoted parts folded to lower case (ASCII only, as in UTF-8
 * databases), every part cut to 63 bytes. An OID (all digits) or malformed text gives undefined.
 */
export function parseQualifiedName(text: string): string[] | undefined {
  if (/^\d+$/.test(text)) return undefined;
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  const space = (): void => {
    while (i < n && isSpace(text[i] as string)) i++;
  };
  space();
  for (;;) {
    let part: string;
    if (text[i] === '"') {
      part = "";
      i++;
      for (;;) {
        if (i >= n) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          i++;
        }
        part += text[i];
        i++;
      }
      i++;
      if (part === "") return undefined;
    } else {
      const start = i;
      while (i < n && text[i] !== "." && !isSpace(text[i] as string) && text[i] !== '"') i++;
      if (i === start) return undefined;
      part = text.slice(start, i).replace(/[A-Z]+/g, (s) => s.toLowerCase());
    }
    out.push(truncate(part));
    space();
    if (i >= n) return out;
    if (text[i] !== ".") return undefined;
    i++;
    space();
  }
}

function isSpace(c: string): boolean {
  // scanner_isspace: space, tab, newline, carriage return, form feed, vertical tab.
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
}

function truncate(part: string): string {
  const bytes = Buffer.from(part, "utf8");
  if (bytes.length <= MAX_IDENTIFIER_BYTES) return part;
  // Cut at a character boundary, as pg_mbcliplen does.
  let end = MAX_IDENTIFIER_BYTES;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/** The function's relation argument is a constant the facts depend on: the fingerprint must keep it. */
export function takesRelationArgument(name: string | undefined): boolean {
  return name !== undefined && RELATION_ARG_FUNCTIONS.has(name);
}
