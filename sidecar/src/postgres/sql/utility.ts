// Statements other than SELECT/INSERT/UPDATE/DELETE/MERGE. Each returns the columns it sends to the
// client (or, for PREPARE and DECLARE, the columns EXECUTE and FETCH will send).
import type { Access } from "./types.js";
import { CONSTANT, plain, type Col } from "./lineage.js";
import { bodyOf, list, nameList, rec, str, unwrap, type Rec } from "./node.js";
import { ownRowsOnly, resolveName, resolveRangeVar } from "./relations.js";
import { Scope, type Cx } from "./scope.js";
import { expr } from "./expr.js";
import { rowsOf } from "./relate.js";
import { baseSource } from "./from.js";
import { ddlOf, isDdl, objectName } from "./kinds.js";
import { discard, showName, transactionOptions, variableSet } from "./settings.js";
import { commitRuns, execute, explain, fetch } from "./carried.js";

export function utility(type: string, b: Rec, cx: Cx, outer: Scope | null): Col[] {
  const f = cx.facts;
  switch (type) {
    case "CopyStmt":
      return copy(b, cx);
    case "ExplainStmt":
      return explain(b, cx);
    case "PrepareStmt": {
      const saved = cx.preparing;
      cx.preparing = true;
      try {
        return inner(b.query, cx);
      } finally {
        cx.preparing = saved;
      }
    }
    case "DeclareCursorStmt":
      return inner(b.query, cx);
    case "ExecuteStmt":
      return execute(b, cx);
    case "FetchStmt":
      return fetch(b, cx);
    case "VariableSetStmt":
      // A SET inside CREATE FUNCTION or ALTER ROLE configures that object, not this session.
      if (outer === null) variableSet(b, f);
      return [];
    case "VariableShowStmt": {
      const name = str(b.name) ?? "";
      f.readSetting(showName(name));
      if (name === "all") return ["name", "setting", "description"].map((n) => ({ name: n, lin: CONSTANT }));
      return [{ name, lin: CONSTANT }];
    }
    case "TransactionStmt":
      transactionOptions(list(b.options), f);
      commitRuns(b, cx);
      return [];
    case "DiscardStmt":
      discard(b, f);
      return [];
    case "DoStmt":
    case "LoadStmt":
      // The body is a string (or a shared library) run by the server: nothing here shows what it does.
      f.opaque = true;
      f.writes = true;
      return [];
    case "CallStmt":
      expr({ FuncCall: b.funccall }, cx, new Scope(null, null));
      f.opaque = true;
      f.writes = true;
      return [];
    case "CheckPointStmt":
      f.writes = true;
      return [];
    case "ClosePortalStmt":
    case "DeallocateStmt":
    case "ListenStmt":
    case "UnlistenStmt":
    case "NotifyStmt":
    case "ConstraintsSetStmt":
      return [];
    case "LockStmt": {
      // ACCESS SHARE and ROW SHARE only need read rights; stronger modes block writers.
      const mode = typeof b.mode === "number" ? b.mode : 8;
      walkWith(b, cx, mode <= 2 ? "read" : "write");
      f.writes = false;
      return [];
    }
    case "VacuumStmt":
      for (const r of list(b.rels)) {
        const vr = bodyOf(r, "VacuumRelation");
        const rv = rec(vr?.relation);
        if (!rv) continue;
        const res = resolveRangeVar(rv, "write", cx.env);
        f.addTable(res.ref);
        for (const c of nameList(vr?.va_cols) ?? []) f.addColumn({ schema: res.lineageSchema, table: res.ref.name, column: c });
      }
      f.writes = true;
      return [];
    case "TruncateStmt":
    case "ClusterStmt":
    case "ReindexStmt":
    case "RefreshMatViewStmt":
      walkWith(b, cx, "write");
      f.writes = true;
      return [];
    case "GrantStmt":
    case "GrantRoleStmt":
    case "AlterDefaultPrivilegesStmt":
      f.ddl ??= ddlOf(type, b);
      f.writes = true;
      walkWith(b, cx, "write");
      return [];
    case "ReturnStmt":
      expr(b.returnval, cx, outer ?? new Scope(null, null, true));
      return [];
    default:
      if (isDdl(type)) return ddl(type, b, cx);
      // Parts of DDL (ReplicaIdentityStmt inside ALTER TABLE) are covered by the enclosing statement.
      if (outer === null) f.addUnknown(`statement ${type} is not modelled`);
      walkWith(b, cx, "write");
      return [];
  }
}

/** Walk every field; RangeVars found get `access`, column names are not resolved. */
function walkWith(b: Rec, cx: Cx, access: Access, skip: readonly string[] = []): void {
  const saved = cx.looseAccess;
  cx.looseAccess = access;
  try {
    const root = new Scope(null, null, true);
    for (const k in b) {
      if (k === "location" || skip.includes(k)) continue;
      const v = b[k];
      if (v !== null && typeof v === "object") expr(v, cx, root);
    }
  } finally {
    cx.looseAccess = saved;
  }
}

function inner(q: unknown, cx: Cx, outer: Scope | null = null): Col[] {
  const u = unwrap(q);
  return u ? cx.nested(u[0], u[1], outer, null) : [];
}

function copy(b: Rec, cx: Cx): Col[] {
  const f = cx.facts;
  const from = b.is_from === true;
  const target = b.is_program === true ? "program" : b.filename !== undefined ? "file" : "stdio";
  f.copy = { direction: from ? "from" : "to", target, query: b.query !== undefined };
  // A server-side file or program is touched either way.
  if (target !== "stdio") f.writes = true;
  let outs: Col[] = [];
  const rv = rec(b.relation);
  if (rv) {
    // COPY of a table (either way) has no ONLY: it copies the rows of that table alone (or routes them, partitioned).
    const res = ownRowsOnly(resolveRangeVar(rv, from ? "write" : "read", cx.env), cx.env);
    f.addTable(res.ref);
    const base = { schema: res.lineageSchema, table: res.ref.name };
    const attlist = nameList(b.attlist) ?? [];
    for (const c of attlist) f.addColumn({ ...base, column: c });
    const names = attlist.length > 0 ? attlist : res.columns;
    if (names) {
      if (attlist.length === 0) for (const c of names) f.addColumn({ ...base, column: c });
      outs = names.map((c) => ({ name: c, lin: plain({ ...base, column: c }) }));
    } else {
      f.addColumn({ ...base, column: "*" });
      outs = [{ name: "*", lin: { cols: [{ ...base, column: "*" }], derived: false, unknown: true }, wide: true }];
    }
    if (b.whereClause !== undefined) {
      const scope = new Scope(null, null);
      scope.addSource(baseSource(res, res.ref.name, [], false, false));
      expr(b.whereClause, cx, scope);
    }
  }
  const q = unwrap(b.query);
  if (q) outs = cx.nested(q[0], q[1], null, null);
  return from ? [] : outs;
}

const RELATION_OBJECTS = new Set(["table", "view", "materialized_view", "index", "sequence", "foreign_table"]);
const ON_RELATION_OBJECTS = new Set(["trigger", "rule", "policy", "column", "constraint"]);

/** A qualified name list (`[schema,] name`) of a relation, as DROP and COMMENT give them. */
function relationFromNames(names: string[], cx: Cx): void {
  if (names.length === 0) return;
  const name = names[names.length - 1] as string;
  const schema = names.length >= 2 ? names[names.length - 2] : undefined;
  cx.facts.addTable(resolveName(schema, name, "write", cx.env, false).ref);
}

function namedObject(objtype: string | undefined, object: unknown, cx: Cx): void {
  if (!objtype) return;
  const names = nameList(bodyOf(object, "List")?.items) ?? nameList(object);
  if (!names) return;
  if (RELATION_OBJECTS.has(objtype)) relationFromNames(names, cx);
  else if (ON_RELATION_OBJECTS.has(objtype)) relationFromNames(names.slice(0, -1), cx);
}

function ddl(type: string, b: Rec, cx: Cx): Col[] {
  const f = cx.facts;
  f.ddl ??= ddlOf(type, b);
  f.writes = true;
  // CREATE TABLE AS runs its query now; other definitions keep expressions for later.
  const saved = cx.deferred;
  cx.deferred = saved || type !== "CreateTableAsStmt" || bodyOf(b.into, "IntoClause")?.skipData === true;
  try {
    return definition(type, b, cx);
  } finally {
    cx.deferred = saved;
  }
}

function definition(type: string, b: Rec, cx: Cx): Col[] {
  const f = cx.facts;
  const lenient = new Scope(null, null, true);
  const created = (rv: unknown): void => {
    const r = rec(rv);
    if (r) f.addTable(resolveRangeVar(r, "write", cx.env, true).ref);
  };
  switch (type) {
    case "CreateStmt":
      created(b.relation);
      walkWith(b, cx, "write", ["relation"]);
      return [];
    case "CreateForeignTableStmt": {
      const base = rec(b.base);
      created(base?.relation);
      if (base) walkWith(base, cx, "write", ["relation"]);
      return [];
    }
    case "CreateSeqStmt":
      created(b.sequence);
      walkWith(b, cx, "write", ["sequence"]);
      return [];
    case "CompositeTypeStmt":
      // typevar names a type, not a table.
      walkWith(b, cx, "write", ["typevar"]);
      return [];
    case "ViewStmt":
      created(b.view);
      // What a view's reader gets is its body's values: stored as CREATE TABLE AS would store them.
      for (const c of inner(b.query, cx, lenient)) f.addWriteInput(c.lin);
      walkWith(b, cx, "write", ["view", "query"]);
      return [];
    case "CreateTableAsStmt": {
      created(bodyOf(b.into, "IntoClause")?.rel);
      const outs = inner(b.query, cx, lenient);
      for (const c of outs) f.addWriteInput(c.lin);
      // No row is sent, but the tag (`SELECT n`) counts the rows stored.
      f.countRows(rowsOf(outs));
      return [];
    }
    case "DropStmt": {
      const obj = objectName(b.removeType);
      for (const o of list(b.objects)) namedObject(obj, o, cx);
      return [];
    }
    case "CommentStmt":
    case "SecLabelStmt":
      namedObject(objectName(b.objtype), b.object, cx);
      return [];
    case "CreateFunctionStmt": {
      for (const o of list(b.options)) {
        const d = bodyOf(o, "DefElem");
        if (str(d?.defname) === "as") f.opaque = true;
      }
      walkWith(b, cx, "write", ["funcname"]);
      return [];
    }
    case "CreateTrigStmt":
    case "CreateEventTrigStmt": {
      const fn = nameList(b.funcname) ?? [];
      const name = fn[fn.length - 1];
      if (name !== undefined) f.addFunction({ schema: fn.length >= 2 ? (fn[fn.length - 2] as string) : null, name, inputs: [], inputs_unknown: false });
      walkWith(b, cx, "write", ["funcname"]);
      return [];
    }
    default:
      walkWith(b, cx, "write");
      return [];
  }
}
