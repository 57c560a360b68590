// Where an unqualified relation name can land, following PostgreSQL's namespace rules.
import type { CatalogLookup, RelationRef, Access } from "./types.js";
import { str, type Rec } from "./node.js";
import { isTemporarySchema, shadowMessage, type TemporaryHolds, type TemporaryRelations } from "./temporary.js";

export interface Env {
  searchPath: string[] | null;
  user: string;
  catalog: CatalogLookup | undefined;
  /** Relations the session may have made in its temporary schema (temporary.ts); absent or empty: none. */
  temporary?: TemporaryRelations;
  /** Told why a name cannot be resolved (the statement is refused as not analysable). */
  unresolvable?: (reason: string) => void;
  /** Told what a temporary relation the statement names may hold (its tables are read through it). */
  holding?: (holds: TemporaryHolds) => void;
}

export interface ResolvedRelation {
  ref: RelationRef;
  /** Attribute names from the catalog, when the catalog knows the relation. */
  columns: string[] | undefined;
  /** Schema for lineage: explicit or catalog-resolved, else null. */
  lineageSchema: string | null;
  /** A temporary relation of the session: what it may hold (every column's value may be made of it). */
  holds?: TemporaryHolds;
}

function effectivePath(env: Env): string[] | null {
  if (env.searchPath === null) return null;
  const out: string[] = [];
  for (const s of env.searchPath) {
    const name = s === "$user" ? env.user : s;
    if (name !== "" && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Lookup order for relations: the session's temporary schema first, then pg_catalog, unless either is
 * listed explicitly (namespace.c, recomputeNamespacePath). Creation goes to the first listed schema.
 */
export function candidateSchemas(env: Env, creating: boolean): string[] | null {
  const path = effectivePath(env);
  if (path === null) return null;
  if (creating) return path;
  const out: string[] = [];
  if (!path.includes("pg_temp")) out.push("pg_temp");
  if (!path.includes("pg_catalog")) out.push("pg_catalog");
  for (const s of path) out.push(s);
  return out;
}

/** A RangeVar body (wrapped or bare) -> relation facts. */
export function resolveRangeVar(rv: Rec, access: Access, env: Env, creating = false): ResolvedRelation {
  const explicit = str(rv.schemaname);
  const name = str(rv.relname) ?? "";
  const temp = str(rv.relpersistence) === "t";
  return resolveName(explicit ?? (creating && temp ? "pg_temp" : undefined), name, access, env, creating, rv.inh !== true);
}

export function resolveName(
  explicit: string | undefined,
  name: string,
  access: Access,
  env: Env,
  creating: boolean,
  only = false,
): ResolvedRelation {
  if (explicit !== undefined) {
    if (!creating && isTemporarySchema(explicit)) return temporary(explicit, name, access, env, [explicit], only);
    const columns = creating ? undefined : env.catalog?.columns(explicit, name);
    return {
      ref: withOwner({ schema: explicit, name, access, candidates: [explicit], only }, columns !== undefined ? env.catalog : undefined),
      columns,
      lineageSchema: explicit,
    };
  }
  const path = candidateSchemas(env, creating);
  const candidates = path ?? [];
  if (!creating && path !== null && env.temporary?.has(name)) return temporaryOrShadowed(name, access, env, path, only);
  // Without the path, the name may be the temporary relation: what it may hold is read too.
  const holds = !creating && path === null ? env.temporary?.get(name) : undefined;
  if (holds) env.holding?.(holds);
  if (!creating && env.catalog) {
    for (const schema of candidates) {
      const columns = env.catalog.columns(schema, name);
      if (columns !== undefined) {
        return { ref: withOwner({ schema, name, access, candidates, only }, env.catalog), columns, lineageSchema: schema };
      }
    }
  }
  return {
    ref: { schema: candidates[0] ?? null, name, access, candidates, only },
    columns: undefined,
    lineageSchema: null,
    ...(holds ? { holds } : {}),
  };
}

/**
 * An unqualified name the session may have made temporary. The server takes the first schema of the path that
 * has it; regate cannot see the temporary schema, so it takes pg_temp where the path puts it, a permanent
 * relation listed before pg_temp as the server would, and refuses a permanent one listed after it: whether the
 * temporary relation still exists (and hides it) is not known here.
 */
function temporaryOrShadowed(name: string, access: Access, env: Env, candidates: string[], only: boolean): ResolvedRelation {
  // Always there: candidateSchemas puts pg_temp first unless the path lists it.
  const at = candidates.indexOf("pg_temp");
  for (const [i, schema] of candidates.entries()) {
    if (schema === "pg_temp") continue;
    const columns = env.catalog?.columns(schema, name);
    // Without the catalog's answer the name is judged as pg_temp (resolve.ts asks and analyses again).
    if (columns === undefined) continue;
    if (i < at) return { ref: withOwner({ schema, name, access, candidates, only }, env.catalog), columns, lineageSchema: schema };
    env.unresolvable?.(shadowMessage(name, `${schema}.${name}`));
    break;
  }
  return temporary("pg_temp", name, access, env, candidates, only);
}

/** A relation of the session's temporary schema, with what regate let statements store in it. */
function temporary(schema: string, name: string, access: Access, env: Env, candidates: string[], only: boolean): ResolvedRelation {
  const holds = env.temporary?.get(name);
  if (holds) env.holding?.(holds);
  return { ref: { schema, name, access, candidates, only }, columns: undefined, lineageSchema: schema, ...(holds ? { holds } : {}) };
}

/** A relation the catalog knows, with the column it belongs to when it is a serial or identity sequence. */
function withOwner(ref: RelationRef, catalog: CatalogLookup | undefined): RelationRef {
  const owner = ref.schema === null ? undefined : catalog?.sequenceOwner?.(ref.schema, ref.name);
  return owner ? { ...ref, owned_by: { ...owner } } : ref;
}

/**
 * A relation whose rows only it holds for this statement, its inheritance children's left out as with ONLY: the
 * target of an INSERT or COPY FROM and the table of a COPY TO (PostgreSQL puts and copies rows of the named table
 * alone), unless the table is partitioned (it routes rows put into it to its partitions) or the catalog does not
 * say (then its descendants count, as without ONLY).
 */
export function ownRowsOnly(res: ResolvedRelation, env: Env): ResolvedRelation {
  const { ref } = res;
  if (ref.only || ref.schema === null || env.catalog?.partitioned?.(ref.schema, ref.name) !== false) return res;
  return { ...res, ref: { ...ref, only: true } };
}
