// Reading libpg-query's JSON tree by shape. Nodes come wrapped (`{"RangeVar": {...}}`) in lists and
// untyped fields, but typed child fields (InsertStmt.relation, IntoClause.rel, ...) are bare objects,
// so nothing here assumes the wrapper is present.

export type Rec = Record<string, unknown>;

export function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function rec(v: unknown): Rec | undefined {
  return isRec(v) ? v : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `{"Type": {...}}` -> ["Type", body]; field names are camelCase, node type names are not. */
export function unwrap(v: unknown): [string, Rec] | undefined {
  if (!isRec(v)) return undefined;
  let key: string | undefined;
  for (const k in v) {
    if (key !== undefined) return undefined;
    key = k;
  }
  if (key === undefined) return undefined;
  const c = key.charCodeAt(0);
  if (c < 65 || c > 90) return undefined;
  const body = v[key];
  return isRec(body) ? [key, body] : undefined;
}

/** The body of a node that may or may not carry its wrapper. */
export function bodyOf(v: unknown, type: string): Rec | undefined {
  const u = unwrap(v);
  if (u) return u[0] === type ? u[1] : undefined;
  return rec(v);
}

export function isRangeVarShape(v: Rec): boolean {
  return typeof v.relname === "string" && "relpersistence" in v;
}

/** Text of a `String` node (an identifier or a string literal in utility syntax). */
export function stringNode(v: unknown): string | undefined {
  const u = unwrap(v);
  if (!u || u[0] !== "String") return undefined;
  return str(u[1].sval) ?? "";
}

/** A list of `String` nodes -> names; undefined if anything else is in it (e.g. A_Star). */
export function nameList(v: unknown): string[] | undefined {
  const out: string[] = [];
  for (const item of list(v)) {
    const s = stringNode(item);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

export type ConstValue =
  | { type: "null" }
  | { type: "string"; value: string }
  | { type: "number"; value: string }
  | { type: "bool"; value: boolean }
  | { type: "bits"; value: string };

/** Value of an A_Const body. Zero and false are emitted as empty objects by the JSON output. */
export function constValue(body: Rec): ConstValue {
  if (body.isnull === true) return { type: "null" };
  const s = rec(body.sval);
  if (s) return { type: "string", value: str(s.sval) ?? "" };
  const i = rec(body.ival);
  if (i) return { type: "number", value: String(typeof i.ival === "number" ? i.ival : 0) };
  const f = rec(body.fval);
  if (f) return { type: "number", value: str(f.fval) ?? "0" };
  const b = rec(body.boolval);
  if (b) return { type: "bool", value: b.boolval === true };
  const bs = rec(body.bsval);
  if (bs) return { type: "bits", value: str(bs.bsval) ?? "" };
  return { type: "null" };
}

/** A constant, looking through casts (`'x'::text`); undefined when the expression is not constant. */
export function constantOf(v: unknown): ConstValue | undefined {
  const u = unwrap(v);
  if (!u) return undefined;
  if (u[0] === "A_Const") return constValue(u[1]);
  if (u[0] === "TypeCast") return constantOf(u[1].arg);
  return undefined;
}

export function constText(c: ConstValue): string | null {
  switch (c.type) {
    case "null":
      return null;
    case "bool":
      return c.value ? "on" : "off";
    default:
      return c.value;
  }
}
