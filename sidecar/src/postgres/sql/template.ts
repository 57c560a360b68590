// A statement's text with its literal constants taken out: `... WHERE aid = 42` and `... WHERE aid = 7`
// share the template `... WHERE aid = $1`. Statements that differ only in constants (pgbench's simple
// mode, ORMs that inline values) can then share one analysis (lifecycle/analyse.ts says when they may).
//
// The scanner is deliberately narrow: it knows plain numbers and plain '...' strings and gives up, returning
// undefined, on anything whose reading depends on more than the characters in front of it (comments, dollar
// quotes, E'' / B'' / X'' / U&'' / N'' strings, backslashes, parameters, several statements). Giving up only
// costs the saving; a wrong template would be a statement analysed as another, so when in doubt it gives up.

export interface SqlTemplate {
  /** The text with each constant replaced by $1, $2, ... in order: what PostgreSQL parses as parameters. */
  text: string;
  /** The kind of each constant in order, n (number) or s (string): `ORDER BY 1` and `ORDER BY '1'` differ. */
  kinds: string;
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;
/** Operator and punctuation characters copied as they are; `-` and `/` are checked for comments first. */
const PUNCT = new Set("(),.*=<>!+-/%:[]|&^~@#?{}".split("").map((c) => c.charCodeAt(0)));
const QUOTE = 39;
const DQUOTE = 34;

/** The template of `sql`, or undefined when it has no constant or the scanner cannot be sure of its reading. */
export function literalTemplate(sql: string): SqlTemplate | undefined {
  let out = "";
  let kinds = "";
  let from = 0; // start of the text not yet copied to `out`
  let i = 0;
  const n = sql.length;
  const constant = (start: number, end: number, kind: "n" | "s") => {
    out += `${sql.slice(from, start)}$${kinds.length + 1}`;
    kinds += kind;
    from = end;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (isIdentStart(c)) {
      while (i < n && isIdentPart(sql.charCodeAt(i))) i++;
      // E'..', B'..', X'..', N'..', a typed literal glued to its type, U&"..": prefixes change the reading.
      if (i < n && (sql.charCodeAt(i) === QUOTE || sql.charCodeAt(i) === DQUOTE || sql.charCodeAt(i) === 38)) return undefined;
    } else if (isDigit(c) || (c === 46 && i + 1 < n && isDigit(sql.charCodeAt(i + 1)))) {
      const start = i;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      if (i < n && sql.charCodeAt(i) === 46) {
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
      }
      if (i < n && (sql.charCodeAt(i) === 101 || sql.charCodeAt(i) === 69)) {
        let j = i + 1;
        if (j < n && (sql.charCodeAt(j) === 43 || sql.charCodeAt(j) === 45)) j++;
        if (j >= n || !isDigit(sql.charCodeAt(j))) return undefined;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        i = j;
      }
      // 0x1F, 1_000, 5abc, 1.2.3: other literal forms, or junk PostgreSQL reads its own way.
      if (i < n && (isIdentPart(sql.charCodeAt(i)) || sql.charCodeAt(i) === 46)) return undefined;
      constant(start, i, "n");
    } else if (c === QUOTE) {
      const start = i;
      // A backslash reads differently with standard_conforming_strings off.
      const end = afterQuoted(sql, i, QUOTE, true);
      if (end === undefined) return undefined;
      i = end;
      // 'a' 'b' across a newline is one constant to PostgreSQL; and a string glued to what follows is odd.
      let j = i;
      while (j < n && isSpace(sql.charCodeAt(j))) j++;
      if (j < n && (sql.charCodeAt(j) === QUOTE || (j === i && isIdentPart(sql.charCodeAt(j))))) return undefined;
      constant(start, i, "s");
    } else if (c === DQUOTE) {
      const end = afterQuoted(sql, i, DQUOTE, false);
      if (end === undefined) return undefined;
      i = end;
    } else if (c === 59) {
      // One statement only, with at most a trailing semicolon.
      for (let j = i + 1; j < n; j++) if (!isSpace(sql.charCodeAt(j))) return undefined;
      i = n;
    } else if (PUNCT.has(c)) {
      if ((c === 45 && sql.charCodeAt(i + 1) === 45) || (c === 47 && sql.charCodeAt(i + 1) === 42)) return undefined;
      i++;
    } else {
      return undefined;
    }
  }
  if (kinds.length === 0) return undefined;
  return { text: out + sql.slice(from), kinds };
}

/**
 * The index after the quoted token that opens at `i` (a doubled quote stands for itself), or undefined when it
 * is not closed, or holds a backslash and `noBackslash` is set.
 */
function afterQuoted(sql: string, i: number, quote: number, noBackslash: boolean): number | undefined {
  for (let k = i + 1; k < sql.length; k++) {
    const d = sql.charCodeAt(k);
    if (noBackslash && d === 92) return undefined;
    if (d !== quote) continue;
    if (sql.charCodeAt(k + 1) !== quote) return k + 1;
    k++;
  }
  return undefined;
}
