import type { DetectorName, MaskRule, MaskStrategy } from "../decision/index.js";
import { applyStrategy, findMatches, maskText, partialAscii, REDACTED, strongerStrategy } from "../mask/index.js";
import { NON_TEXT_SCALAR_OIDS, TEXT_OID, TEXTLIKE_OIDS, type FieldDescription, type Replacement } from "./protocol/index.js";
import type { StatementFacts } from "./sql/types.js";

/** How one result column is masked: a column rule masks the whole value, detectors mask what they find. */
export type ColumnMask =
  | { kind: "rule"; strategy: MaskStrategy; textual: boolean }
  | { kind: "detector"; detectors: DetectorName[]; strategy: MaskStrategy; binaryIsText: boolean; typeOid: number };

export interface MaskPlan {
  columns: Map<number, ColumnMask>;
  /**
   * The columns the server sends in binary, by the format codes of the RowDescription the plan was made
   * from. A simple Query's are the server's own (a BINARY cursor's FETCH sends every column in binary);
   * an Execute's come from its Bind (Portal.resultFormats) instead.
   */
  binary?: ReadonlySet<number>;
}


export function columnRules(rules: readonly MaskRule[]): Map<string, MaskStrategy> {
  const out = new Map<string, MaskStrategy>();
  for (const r of rules) if (r.column) out.set(r.column, strongerStrategy(out.get(r.column), r.strategy)!);
  return out;
}

/** A column rule ("schema.table.column") covers a lineage column (a null schema: any; column "*": every one). */
export function ruleCovers(rule: string, schema: string | null, table: string, column: string): boolean {
  const [rs, rt, rc] = rule.split(".");
  if (rt !== table) return false;
  if (schema !== null && rs !== schema) return false;
  return column === "*" || rc === column;
}

/**
 * `partial` and `hash` are sound for a column's own value only. Of a value the agent's expression made
 * (`'0000' || substr(card_number, 1, 4)` ends in the card's first four digits, `substr(email, 3, 1) || 'xxxx'`
 * starts with the e-mail's third character, `email::varchar(5)` ends in its fifth) or that a masked column
 * chose (`g` of `generate_series` equal to part of it), the agent picks which part `partial` keeps, and a
 * `hash` of `substr(card_number, 1, 0) || '4'` is the hash of a digit it chose: a dictionary for the hashes of
 * each digit. Such a value (`derived` in the facts: anything but a plain column reference) is redacted.
 */
function ownValueOnly(strategy: MaskStrategy): MaskStrategy {
  return strategy === "partial" || strategy === "hash" ? "redact" : strategy;
}

/**
 * Whether the analysis' outputs are out of step with the server's columns. Lineage masks go by position, so
 * an output list in another order than the server's (MERGE's RETURNING * lists the source's columns before
 * the target's; the analysis once listed them after) masks one column and sends its neighbour in clear. The
 * server names every column it sends, and the analysis names its outputs as the server does: a name that
 * differs at the same position means no position can be trusted, and every column is redacted. Even one the
 * server says is a plain table column: the lineage that would have masked it (a value the rows chosen relate
 * to a masked column) is somewhere in the list, at a position no longer known.
 */
function misnamed(outputs: StatementFacts["outputs"], fields: readonly FieldDescription[]): boolean {
  return outputs.length === fields.length && outputs.some((o, i) => o.name !== fields[i]!.name);
}

/**
 * Decides, per output column, whether it is masked: by the base column the server says it is
 * (table OID + attnum, resolved through the catalog) and by the SQL lineage (expressions, aliases,
 * subqueries, CTEs). A column whose lineage is unknown while column masks apply is redacted whole.
 */
export function buildMaskPlan(
  rules: readonly MaskRule[],
  facts: StatementFacts | undefined,
  fields: readonly FieldDescription[],
  resolve: (tableOid: number, attnum: number) => string | readonly string[] | undefined,
): MaskPlan | undefined {
  if (rules.length === 0) return undefined;
  const byColumn = columnRules(rules);
  const detectorRules = rules.filter((r) => r.detector);
  const detectorStrategy = detectorRules.reduce<MaskStrategy | undefined>((s, r) => strongerStrategy(s, r.strategy), undefined);
  const shifted = facts !== undefined && misnamed(facts.outputs, fields);
  const outputs = facts && !shifted && facts.outputs.length === fields.length ? facts.outputs : undefined;
  const columns = new Map<number, ColumnMask>();
  fields.forEach((f, i) => {
    let strategy: MaskStrategy | undefined;
    if (byColumn.size > 0) {
      // The column itself, then (a child's or partition's) the same column of each ancestor.
      const found = f.tableOid !== 0 ? resolve(f.tableOid, f.attnum) : undefined;
      const base = typeof found === "string" ? [found] : (found ?? []);
      for (const b of base) strategy = strongerStrategy(strategy, byColumn.get(b));
      const out = outputs?.[i];
      if (shifted) strategy = strongerStrategy(strategy, "redact");
      else if (!out || out.unknown) {
        if (base.length === 0) strategy = strongerStrategy(strategy, "redact");
      } else {
        let fromLineage: MaskStrategy | undefined;
        for (const c of out.lineage) {
          for (const [name, s] of byColumn) if (ruleCovers(name, c.schema, c.table, c.column)) fromLineage = strongerStrategy(fromLineage, s);
        }
        strategy = strongerStrategy(strategy, fromLineage && out.derived ? ownValueOnly(fromLineage) : fromLineage);
      }
    }
    if (strategy) columns.set(i, { kind: "rule", strategy, textual: TEXTLIKE_OIDS.has(f.typeOid) });
    // Detectors read any value whose text can hold text: `row_to_json(t)`, an array or a record of a text
    // column carries it as much as the column does.
    else if (detectorStrategy && !NON_TEXT_SCALAR_OIDS.has(f.typeOid)) {
      columns.set(i, { kind: "detector", detectors: detectorRules.map((r) => r.detector!), strategy: detectorStrategy, binaryIsText: BINARY_IS_TEXT.has(f.typeOid), typeOid: f.typeOid });
    }
  });
  if (columns.size === 0) return undefined;
  const binary = new Set<number>();
  fields.forEach((f, i) => f.format === 1 && binary.add(i));
  return binary.size ? { columns, binary } : { columns };
}

/** Rule-masked columns become text: text's binary send format is its UTF-8 bytes, so one value serves both formats. */
export function rewriteFields(fields: readonly FieldDescription[], plan: MaskPlan): FieldDescription[] {
  return fields.map((f, i) => (plan.columns.get(i)?.kind === "rule" ? { ...f, typeOid: TEXT_OID, typlen: -1, typmod: -1 } : f));
}

/** The rule-masked columns of `plan`, which a RowDescription rewritten by it tells the client are text. */
export function textColumns(plan: MaskPlan | undefined): ReadonlyMap<number, MaskStrategy> | undefined {
  if (!plan) return undefined;
  const out = new Map<number, MaskStrategy>();
  for (const [i, m] of plan.columns) if (m.kind === "rule") out.set(i, m.strategy);
  return out.size ? out : undefined;
}

/**
 * The plan for rows a client decodes by a row shape it was told before, not by one rewritten by `plan`: an
 * Execute without a Describe of its portal is read by the statement's Describe (`told`: the columns shown
 * as text there), or by the types the client assumed (`told` undefined). A masked column the client still
 * reads as its own non-text type can hold no mask token (`****` is four bytes of int4 in binary, a parse
 * error in text, a short read for int8): it is withheld as NULL, which every type holds. A column the client
 * was told is text gets text whatever the portal's decision masks: the mask it was told of, at least.
 */
export function planAsTold(plan: MaskPlan | undefined, told: ReadonlyMap<number, MaskStrategy> | undefined, fields: readonly FieldDescription[]): MaskPlan | undefined {
  const columns = new Map(plan?.columns);
  for (const [i, m] of columns) if (m.kind === "rule" && !m.textual && !told?.has(i)) columns.set(i, { kind: "rule", strategy: "null", textual: false });
  for (const [i, strategy] of told ?? []) {
    const f = fields[i];
    if (f && columns.get(i)?.kind !== "rule") columns.set(i, { kind: "rule", strategy, textual: TEXTLIKE_OIDS.has(f.typeOid) });
  }
  return columns.size ? { columns } : undefined;
}

/**
 * The masked form of one value, read from where it lies in the row (`length` -1: SQL NULL, which stays
 * NULL). `binary`: the column is sent in binary format. Undefined: keep the value as it is.
 */
export function maskRawValue(plan: MaskPlan, column: number, raw: Buffer, start: number, length: number, binary: boolean, key: Buffer | undefined): Replacement {
  const m = plan.columns.get(column);
  if (!m || length < 0) return undefined;
  if (m.kind === "detector") {
    const text = raw.toString("utf8", start, start + length);
    const masked = maskText(text, m.detectors, m.strategy, key);
    if (masked === text) return undefined;
    // The binary form of an array, a record or a range holds the length of each part: text masked in
    // place leaves them wrong, and a driver that asks for binary (tokio-postgres, sqlx) cannot read the
    // row. The whole value is withheld as NULL, the one value every type and format can hold.
    if (binary && !m.binaryIsText) return null;
    return masked === null || keepsType(m, text, masked, binary) ? masked : null;
  }
  if (m.strategy === "null") return null;
  // The same bytes for every row: shared, never copied.
  if (m.strategy === "redact") return REDACTED_BYTES;
  // A binary value of a non-text type cannot be read as text here: only whole-value tokens apply.
  if (binary && !m.textual) return m.strategy === "hash" ? applyStrategy(raw.toString("hex", start, start + length), "hash", undefined, key) : REDACTED_BYTES;
  if (m.strategy === "partial") {
    const fast = partialAscii(raw, start, length);
    if (fast) return fast;
  }
  return applyStrategy(raw.toString("utf8", start, start + length), m.strategy, undefined, key);
}

const REDACTED_BYTES = Buffer.from(REDACTED);

type DetectorMask = Extract<ColumnMask, { kind: "detector" }>;

/** Arrays of text types: a mask token in place of an element or inside one is still text. */
const TEXT_ARRAY_OIDS: ReadonlySet<number> = new Set([1009, 1015, 1014, 1003]);

/**
 * Whether `masked`, a detector's mask of the value `text`, still reads as the column's type. A detector
 * finds a card number or a phone number in digits wherever they are: as a JSON number (`{"n": ****}` is no
 * JSON), an int8[] or numeric[] element (`{****}`), a numeric field of a record (`(****,x)`), a bytea's hex
 * digits. A driver that parses the type fails on such a row. Text, text arrays and xml take the tokens
 * anywhere; json and jsonb are parsed again; an array or record of other types keeps the mask only inside
 * a quoted element that holds no nested structure (an element a number never is). Anything else is
 * withheld as NULL.
 */
function keepsType(m: DetectorMask, text: string, masked: string, binary: boolean): boolean {
  if (TEXTLIKE_OIDS.has(m.typeOid) || TEXT_ARRAY_OIDS.has(m.typeOid) || m.typeOid === XML_OID) return true;
  if (m.typeOid === BYTEA_OID) return binary; // binary: the bytes themselves; text: hex digits
  if (m.typeOid === JSON_OID || m.typeOid === JSONB_OID) return parsesAsJson(binary && m.typeOid === JSONB_OID ? masked.slice(1) : masked);
  return findMatches(text, m.detectors).every((x) => quotedPlainly(text, x.start, x.end));
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `[start, end)` lies in a double-quoted element of an array's or a record's text form, one with no
 * escapes and no brackets: text, not a nested array, record or JSON whose own syntax the mask could break.
 */
function quotedPlainly(text: string, start: number, end: number): boolean {
  let open = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (open < 0) {
      if (c === '"') open = i;
      continue;
    }
    if (c === "\\") {
      i++;
      continue;
    }
    if (c !== '"') continue;
    // A record doubles a quote inside a quoted field.
    if (text[i + 1] === '"') {
      i++;
      continue;
    }
    if (start > open && end <= i) return !/["\\{}()[\]]/.test(text.slice(open + 1, i));
    open = -1;
  }
  return false;
}

const BYTEA_OID = 17;
const JSON_OID = 114;
const XML_OID = 142;
const JSONB_OID = 3802;

/**
 * Types whose binary form is their text as the text format has it (bytea: the bytes themselves; jsonb: a
 * version byte, then its text): a detector's mask fits in it at any length.
 */
const BINARY_IS_TEXT: ReadonlySet<number> = new Set([...TEXTLIKE_OIDS, BYTEA_OID, JSON_OID, XML_OID, JSONB_OID]);
