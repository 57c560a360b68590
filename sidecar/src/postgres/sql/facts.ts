// Accumulates facts while one statement's tree is walked; every add is de-duplicated.
import type {
  ColumnRef,
  CopyFacts,
  DdlFacts,
  FunctionRef,
  OutputColumn,
  RelationRef,
  SettingChange,
  StatementFacts,
  StatementKind,
} from "./types.js";
import { columnKey, type Lin } from "./lineage.js";

// A pathological statement must not turn into a pathological input document.
const MAX_UNKNOWN = 32;

export class FactsBuilder {
  private readonly tables = new Map<string, RelationRef>();
  private readonly columns = new Map<string, ColumnRef>();
  private readonly writeInputs = new Map<string, ColumnRef>();
  writeInputsUnknown = false;
  private readonly rowCountInputs = new Map<string, ColumnRef>();
  private rowCountUnknown = false;
  private readonly functions = new Map<string, FunctionRef>();
  private readonly operators = new Set<string>();
  private readonly unknown = new Set<string>();
  readonly settings: SettingChange[] = [];
  private readonly settingsRead = new Set<string>();
  outputs: OutputColumn[] = [];
  writes = false;
  opaque = false;
  roleChange = false;
  hasWhere: boolean | null = null;
  ddl: DdlFacts | null = null;
  copy: CopyFacts | null = null;
  explainAnalyze = false;
  /**
   * A relation is named by text the server turns into a relation when the statement runs, under the
   * search_path in effect then (`nextval('s'::text)`, pg_get_serial_sequence): statement.ts refuses it
   * beside a set_config() of search_path, which can move that path before the name is looked up.
   */
  namesAtRun = false;
  /** A fact depends on the values of the statement's constants (same-expression.ts): not for the policy. */
  constantValues = false;

  /** Lists that also receive every relation added while they are open (FOR UPDATE: what a FROM clause read). */
  private readonly recorders: RelationRef[][] = [];

  record(into: RelationRef[]): void {
    this.recorders.push(into);
  }

  stopRecording(into: RelationRef[]): void {
    const at = this.recorders.lastIndexOf(into);
    if (at >= 0) this.recorders.splice(at, 1);
  }

  addTable(ref: RelationRef): void {
    for (const r of this.recorders) r.push(ref);
    if (ref.access === "write") this.writes = true;
    const key = `${ref.schema ?? ""}\u0000${ref.name}\u0000${ref.access}\u0000${ref.only ? 1 : 0}`;
    if (!this.tables.has(key)) this.tables.set(key, ref);
  }

  addColumn(ref: ColumnRef): void {
    const key = columnKey(ref);
    if (!this.columns.has(key)) this.columns.set(key, ref);
  }

  /** Every column read so far. */
  readColumns(): ColumnRef[] {
    return [...this.columns.values()];
  }

  /** Values with this lineage may be stored by a write. */
  addWriteInput(lin: Lin): void {
    if (lin.unknown) this.writeInputsUnknown = true;
    for (const c of lin.cols) if (!this.writeInputs.has(columnKey(c))) this.writeInputs.set(columnKey(c), { ...c });
  }

  /** The number of rows the statement returns or changes is made of this. */
  countRows(lin: Lin): void {
    if (lin.unknown) this.rowCountUnknown = true;
    for (const c of lin.cols) if (!this.rowCountInputs.has(columnKey(c))) this.rowCountInputs.set(columnKey(c), { ...c });
  }

  /** A plain EXPLAIN plans writes without running them. */
  clearWriteInputs(): void {
    this.writeInputs.clear();
    this.writeInputsUnknown = false;
  }

  addFunction(ref: FunctionRef): void {
    const key = `${ref.schema ?? ""}\u0000${ref.name}`;
    const had = this.functions.get(key);
    if (!had) {
      this.functions.set(key, ref);
      return;
    }
    // One entry per name; its inputs are the union over every call.
    const seen = new Set(had.inputs.map(columnKey));
    for (const c of ref.inputs) if (!seen.has(columnKey(c))) had.inputs.push(c), seen.add(columnKey(c));
    if (ref.inputs_unknown) had.inputs_unknown = true;
  }

  addOperator(op: string): void {
    this.operators.add(op);
  }

  addUnknown(reason: string): void {
    if (this.unknown.size < MAX_UNKNOWN) this.unknown.add(reason);
    else if (this.unknown.size === MAX_UNKNOWN) this.unknown.add("more reasons omitted");
  }

  hasUnknown(): boolean {
    return this.unknown.size > 0;
  }

  noteWhere(present: boolean): void {
    this.hasWhere = (this.hasWhere ?? true) && present;
  }

  /** The statement reads a server setting's value by this name ("*": any or every one). */
  readSetting(name: string): void {
    this.settingsRead.add(name);
  }

  /** Merge facts carried from elsewhere (a PREPARE for EXECUTE, a DECLARE for FETCH). */
  absorb(f: StatementFacts): void {
    for (const t of f.tables) this.addTable({ ...t, candidates: [...t.candidates] });
    for (const c of f.columns) this.addColumn({ ...c });
    this.addWriteInput({ cols: f.write_inputs, derived: true, unknown: f.write_inputs_unknown });
    for (const fn of f.functions) this.addFunction({ ...fn, inputs: fn.inputs.map((c) => ({ ...c })) });
    for (const op of f.operators) this.addOperator(op);
    for (const u of f.unknown) this.addUnknown(u);
    for (const s of f.settings) this.settings.push({ ...s });
    for (const n of f.settings_read) this.readSetting(n);
    if (f.has_where !== null) this.noteWhere(f.has_where);
    if (f.writes) this.writes = true;
    if (f.opaque) this.opaque = true;
    if (f.role_change) this.roleChange = true;
    if (f.ddl && !this.ddl) this.ddl = { ...f.ddl };
  }

  build(kind: StatementKind, node: string, sql: string): StatementFacts {
    return {
      kind,
      node,
      sql,
      tables: [...this.tables.values()],
      columns: [...this.columns.values()],
      outputs: this.outputs,
      functions: [...this.functions.values()],
      operators: [...this.operators],
      has_where: this.hasWhere,
      writes: this.writes,
      write_inputs: [...this.writeInputs.values()],
      write_inputs_unknown: this.writeInputsUnknown,
      row_count_inputs: [...this.rowCountInputs.values()],
      row_count_unknown: this.rowCountUnknown,
      ddl: this.ddl,
      settings: this.settings,
      settings_read: [...this.settingsRead],
      role_change: this.roleChange,
      copy: this.copy,
      explain_analyze: this.explainAnalyze,
      opaque: this.opaque,
      unknown: [...this.unknown],
    };
  }
}
