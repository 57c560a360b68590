// Output column names for targets without AS, after PostgreSQL's FigureColname.
import { bodyOf, list, nameList, str, stringNode, unwrap } from "./node.js";

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
  CaseExpr: "case",
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

export function figureName(v: unknown): string {
  const u = unwrap(v);
  if (!u) return UNNAMED;
  const [type, b] = u;
  const simple = SIMPLE_NAMES[type];
  if (simple) return simple;
  switch (type) {
    case "ColumnRef": {
      const fields = list(b.fields);
      return stringNode(fields[fields.length - 1]) ?? UNNAMED;
    }
    case "A_Indirection": {
      const ind = list(b.indirection);
      for (let i = ind.length - 1; i >= 0; i--) {
        const s = stringNode(ind[i]);
        if (s !== undefined) return s;
      }
      return figureName(b.arg);
    }
    case "FuncCall": {
      const n = nameList(b.funcname) ?? [];
      return n[n.length - 1] ?? UNNAMED;
    }
    case "A_Expr":
      return str(b.kind) === "AEXPR_NULLIF" ? "nullif" : UNNAMED;
    case "TypeCast": {
      const inner = figureName(b.arg);
      if (inner !== UNNAMED) return inner;
      const t = nameList(bodyOf(b.typeName, "TypeName")?.names) ?? [];
      return t[t.length - 1] ?? UNNAMED;
    }
    case "CollateClause":
      return figureName(b.arg);
    case "MinMaxExpr":
      return str(b.op) === "IS_GREATEST" ? "greatest" : "least";
    case "SQLValueFunction":
      return (str(b.op) ?? "")
        .replace(/^SVFOP_/, "")
        .replace(/_N$/, "")
        .toLowerCase();
    case "XmlExpr":
      return XML_NAMES[str(b.op) ?? ""] ?? UNNAMED;
    case "JsonFuncExpr":
      return (str(b.op) ?? "").replace(/_OP$/, "").toLowerCase() || UNNAMED;
    case "SubLink": {
      const kind = str(b.subLinkType);
      if (kind === "EXISTS_SUBLINK") return "exists";
      if (kind === "ARRAY_SUBLINK") return "array";
      if (kind === "EXPR_SUBLINK") {
        const sel = bodyOf(b.subselect, "SelectStmt");
        const first = bodyOf(list(sel?.targetList)[0], "ResTarget");
        if (first) return str(first.name) ?? figureName(first.val);
      }
      return UNNAMED;
    }
    default:
      return UNNAMED;
  }
}
