// Output column names for targets without AS, after PostgreSQL's FigureColname.
import { bodyOf, list, nameList, rec, str, stringNode, unwrap } from "./node.js";

const XML_NAMES: Record<string, string> = {
  IS_XMLCONCAT: "xmlconcat",
  IS_XMLELEMENT: "xmlelement",
  IS_XMLFOREST: "xmlforest",
  IS_XMLPARSE: "xmlparse",
  IS_XMLPI: "xmlpi",
  IS_XMLROOT: "xmlroot",
  IS_XMLSERIALIZE: "xmlserialize",
};

const SIMPLE_NAMES: Record<string, string> = {
  A_ArrayExpr: "array",
  RowExpr: "row",
  CoalesceExpr: "coalesce",
  XmlSerialize: "xmlserialize",
  GroupingFunc: "grouping",
  MergeSupportFunc: "merge_action",
  JsonObjectConstructor: "json_object",
  JsonArrayConstructor: "json_array",
  JsonArrayQueryConstructor: "json_array",
  JsonObjectAgg: "json_objectagg",
  JsonArrayAgg: "json_arrayagg",
  JsonParseExpr: "json",
  JsonScalarExpr: "json_scalar",
  JsonSerializeExpr: "json_serialize",
};

const UNNAMED = "?column?";

// How sure a name is, as FigureColnameInternal ranks it: 2 a column's, function's or keyword's own name, 1 a
// fallback (a cast's type, "case") that a surer name inside it overrides, 0 none. The mask plan trusts an
// output's lineage only while its name is the server's (mask-plan.ts), so a name figured otherwise than the
// server's costs a whole result its unmasked columns.
type Figured = [name: string, strength: 0 | 1 | 2];

export function figureName(v: unknown): string {
  return figure(v)[0];
}

function figure(v: unknown): Figured {
  const u = unwrap(v);
  if (!u) return [UNNAMED, 0];
  const [type, b] = u;
  const simple = SIMPLE_NAMES[type];
  if (simple) return [simple, 2];
  switch (type) {
    case "ColumnRef": {
      const fields = list(b.fields);
      const name = stringNode(fields[fields.length - 1]);
      return name === undefined ? [UNNAMED, 0] : [name, 2];
    }
    case "A_Indirection": {
      const ind = list(b.indirection);
      for (let i = ind.length - 1; i >= 0; i--) {
        const s = stringNode(ind[i]);
        if (s !== undefined) return [s, 2];
      }
      return figure(b.arg);
    }
    case "FuncCall": {
      const n = nameList(b.funcname) ?? [];
      const name = n[n.length - 1];
      return name === undefined ? [UNNAMED, 0] : [name, 2];
    }
    case "A_Expr":
      return str(b.kind) === "AEXPR_NULLIF" ? ["nullif", 2] : [UNNAMED, 0];
    case "TypeCast": {
      // `1::text::int` is int4: the outer cast's type overrides the inner one's, a column's name does not.
      const inner = figure(b.arg);
      if (inner[1] === 2) return inner;
      const t = nameList(bodyOf(b.typeName, "TypeName")?.names) ?? [];
      const name = t[t.length - 1];
      return name === undefined ? inner : [name, 1];
    }
    case "CaseExpr": {
      // Named after its ELSE value when that has a name of its own: CASE ... ELSE id END is "id".
      const def = figure(b.defresult);
      return def[1] === 2 ? def : ["case", 1];
    }
    case "CollateClause":
      return figure(b.arg);
    case "MinMaxExpr":
      return [str(b.op) === "IS_GREATEST" ? "greatest" : "least", 2];
    case "SQLValueFunction":
      return [
        (str(b.op) ?? "")
          .replace(/^SVFOP_/, "")
          .replace(/_N$/, "")
          .toLowerCase(),
        2,
      ];
    case "XmlExpr": {
      const name = XML_NAMES[str(b.op) ?? ""];
      return name === undefined ? [UNNAMED, 0] : [name, 2];
    }
    case "JsonFuncExpr": {
      const name = (str(b.op) ?? "").replace(/_OP$/, "").toLowerCase();
      return name ? [name, 2] : [UNNAMED, 0];
    }
    case "SubLink": {
      const kind = str(b.subLinkType);
      if (kind === "EXISTS_SUBLINK") return ["exists", 2];
      if (kind === "ARRAY_SUBLINK") return ["array", 2];
      if (kind === "EXPR_SUBLINK") {
        // The sub-select's own first column name, whatever its strength there: a set operation's is its
        // first branch's, a VALUES list's is column1.
        let sel = bodyOf(b.subselect, "SelectStmt");
        while (sel && list(sel.targetList).length === 0 && sel.larg) sel = bodyOf(sel.larg, "SelectStmt") ?? rec(sel.larg);
        if (sel && list(sel.valuesLists).length > 0) return ["column1", 2];
        const first = bodyOf(list(sel?.targetList)[0], "ResTarget");
        if (first) return [str(first.name) ?? figureName(first.val), 2];
      }
      return [UNNAMED, 0];
    }
    default:
      return [UNNAMED, 0];
  }
}
