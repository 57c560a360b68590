// Where an OpenAPI (or Swagger) document carries JSON Schemas whose property names are field names
// (`components.schemas.Customer.properties.email`): their values are schemas, not the field's values. Masked
// as values, `"type": "s***g"` breaks the spec an agent reads to call the API. Both the whole-document walk
// (json-rewrite.ts) and the streaming masker (json-stream-tokens.ts) step through the same contexts here.

import { mergeActions, type FieldAction } from "./mask-actions.js";
import { fieldNameFold, PairRole } from "./field-names.js";

export const enum OasKind {
  /** The root object of an OpenAPI or Swagger document (openApiRootMember). */
  Root,
  /** Under `paths` or `components`, where a `schema` member is a schema. */
  Area,
  /** `components`: its `schemas` is a map of schemas. */
  Components,
  /** A map of schemas named by property or model names (`properties`, `components.schemas`, `definitions`). */
  Map,
  Schema,
  /** A list of schemas (`allOf`, `anyOf`, `oneOf`, `prefixItems`). */
  List,
  /** The value of a structural keyword in a field's schema: kept only when it passes its check (keptScalar). */
  Check,
  /** A list or map of parameter objects (`parameters` of a path item or operation, `components.parameters`). */
  Params,
  /**
   * A parameter object, `{"name": "email", "in": "query", "schema": …}`: when its `name` names a field, its
   * `schema` (Swagger 2.0: `items`) is that field's schema, and its example and default values are the field's.
   */
  Param,
}

/** A value's place in an OpenAPI document. */
export interface OasAt {
  kind: OasKind;
  /** The mask of the field whose schema this is: every leaf that is not structure gets it. */
  field?: FieldAction;
  /** The property name the schema is under (a `title` spelling it is structure). */
  name?: string;
  /** Check: the keyword. */
  keyword?: string;
}

/** What a member or element is, one level below a context. */
export interface OasStep {
  /** Its context; undefined: an ordinary value, masked as anywhere else. */
  at: OasAt | undefined;
  /** The key is a property or keyword name: no field rule applies to it by name. */
  exempt: boolean;
  /** The action it gets as a leaf of a field's schema that is not structure. */
  field: FieldAction | undefined;
}

const ROOT: OasAt = { kind: OasKind.Root };
const AREA: OasAt = { kind: OasKind.Area };
const COMPONENTS: OasAt = { kind: OasKind.Components };
const MAP: OasAt = { kind: OasKind.Map };
const SCHEMA: OasAt = { kind: OasKind.Schema };
const PARAMS: OasAt = { kind: OasKind.Params };
const PARAM: OasAt = { kind: OasKind.Param };
const ORDINARY: OasStep = { at: undefined, exempt: false, field: undefined };

const MAP_KEYS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
const ONE_KEYS = new Set(["items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "additionalItems", "unevaluatedItems", "unevaluatedProperties"]);
const LIST_KEYS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const NUMERIC_KEYS = new Set([
  "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
  "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "minContains", "maxContains",
  "nullable", "readOnly", "writeOnly", "deprecated",
]);
const CHECK_KEYS = new Set(["type", "format", "$ref", "title", "required", "collectionFormat", ...NUMERIC_KEYS]);
/** Swagger 2.0's ways of joining an array parameter's items. */
const COLLECTION_FORMATS = new Set(["csv", "ssv", "tsv", "pipes", "multi"]);
/** What a parameter object (Param) gives as its field's value, every spelling: masked as the field it names. */
const PARAM_VALUE_KEYS = new Set(["example", "examples", "default", "enum", "const", "x-example", "x-examples"]);
/** What a parameter object holds as its field's schema once its name is known. */
const PARAM_SCHEMA_KEYS = new Set(["schema", "items"]);
const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null", "file"]);
const FORMAT = /^[A-Za-z][A-Za-z0-9._-]{0,39}$/;
const PROPERTY_NAME = /^[A-Za-z_$][A-Za-z0-9_.$-]{0,63}$/;
const LOCAL_REF = /^#(?:\/[A-Za-z_$~][A-Za-z0-9._~$-]*)+$/;
const MAX_REF = 256;
const spelling = fieldNameFold("spelling");

/**
 * Whether the root object's first member makes it an OpenAPI or Swagger document: `openapi` with "3.…", or
 * `swagger` with "2.0". Only the first member counts, so that a stream knows before any schema passes; a
 * document that says so later is masked as any other.
 */
export function openApiRootMember(key: string, value: unknown): boolean {
  if (typeof value !== "string") return false;
  return key === "openapi" ? value.startsWith("3.") : key === "swagger" && value === "2.0";
}

export function openApiRoot(): OasAt {
  return ROOT;
}

/**
 * Member `key` (`member`) or an element, one level below `at`; `named` finds a field rule by key. Schemas are
 * looked for only under `paths`, `webhooks`, `components` and Swagger 2.0's `definitions`, `parameters` and
 * `responses`, so a document that reaches one has them.
 */
export function oasChild(at: OasAt, key: string, member: boolean, named: (key: string) => FieldAction | undefined): OasStep {
  const f = at.field;
  switch (at.kind) {
    case OasKind.Root:
      if (!member) return ORDINARY;
      // OpenAPI 3.1's `webhooks` hold path items as `paths` does; Swagger 2.0's root `responses` hold
      // response objects and its `parameters` parameter objects, by name.
      if (key === "paths" || key === "webhooks" || key === "responses") return { at: AREA, exempt: false, field: undefined };
      if (key === "components") return { at: COMPONENTS, exempt: false, field: undefined };
      if (key === "parameters") return { at: PARAMS, exempt: false, field: undefined };
      return key === "definitions" ? { at: MAP, exempt: false, field: undefined } : ORDINARY;
    case OasKind.Area:
    case OasKind.Components:
      if (member && key === "schema") return { at: SCHEMA, exempt: false, field: undefined };
      if (member && at.kind === OasKind.Components && key === "schemas") return { at: MAP, exempt: false, field: undefined };
      if (member && key === "parameters") return { at: PARAMS, exempt: false, field: undefined };
      // Examples hold values, schemas or not; so do links (a link's `parameters` and `requestBody` are values).
      if (member && (key === "example" || key === "examples" || key === "links")) return ORDINARY;
      return { at: AREA, exempt: false, field: undefined };
    case OasKind.Params:
      // Named by their component names (`components.parameters.email`): names, not fields.
      return { at: PARAM, exempt: member, field: undefined };
    case OasKind.Param:
      if (!member) return { at: AREA, exempt: false, field: undefined };
      if (PARAM_SCHEMA_KEYS.has(key)) return { at: SCHEMA, exempt: false, field: undefined };
      if (PARAM_VALUE_KEYS.has(key)) return ORDINARY;
      return { at: AREA, exempt: false, field: undefined };
    case OasKind.Map:
      if (!member) return { at: undefined, exempt: false, field: f };
      return { at: { kind: OasKind.Schema, field: mergeActions(f, named(key)), name: key }, exempt: true, field: undefined };
    case OasKind.List:
      return member ? { at: undefined, exempt: false, field: f } : { at: { kind: OasKind.Schema, field: f, name: at.name }, exempt: false, field: undefined };
    case OasKind.Check:
      if (!member && (at.keyword === "type" || at.keyword === "required")) return { at, exempt: false, field: undefined };
      return { at: undefined, exempt: false, field: f };
    case OasKind.Schema:
      if (!member) return { at, exempt: false, field: undefined };
      if (MAP_KEYS.has(key)) return { at: f ? { kind: OasKind.Map, field: f } : MAP, exempt: true, field: undefined };
      if (ONE_KEYS.has(key)) return { at: f ? at : { kind: OasKind.Schema, name: at.name }, exempt: true, field: undefined };
      if (LIST_KEYS.has(key)) return { at: { kind: OasKind.List, field: f, name: at.name }, exempt: true, field: undefined };
      if (f === undefined) return ORDINARY;
      if (CHECK_KEYS.has(key)) return { at: { kind: OasKind.Check, field: f, name: at.name, keyword: key }, exempt: true, field: undefined };
      return { at: undefined, exempt: false, field: mergeActions(f, named(key)) };
  }
}

/**
 * Whether a container may open at `at` (its members or elements are then judged one by one): not where a
 * field's schema needs a scalar. False: the container is masked whole as the field.
 */
export function containerAllowed(at: OasAt, array: boolean): boolean {
  if (at.field === undefined || at.kind !== OasKind.Check) return true;
  return array && (at.keyword === "type" || at.keyword === "required");
}

/**
 * Whether a scalar at `at` (`value`: a string's value, or a literal's text when `string` is false) is
 * structure of a field's schema, kept as it came; false: masked as the field. Outside one, always true.
 */
export function keptScalar(at: OasAt, value: string, string: boolean): boolean {
  if (at.field === undefined) return true;
  if (at.kind !== OasKind.Check) return !string && (value === "true" || value === "false");
  const k = at.keyword!;
  if (!string) return NUMERIC_KEYS.has(k) && value !== "null";
  if (k === "type") return TYPES.has(value);
  if (k === "format") return FORMAT.test(value);
  if (k === "$ref") return value.length <= MAX_REF && LOCAL_REF.test(value);
  if (k === "required") return PROPERTY_NAME.test(value);
  if (k === "title") return at.name !== undefined && spelling(value) === spelling(at.name);
  if (k === "collectionFormat") return COLLECTION_FORMATS.has(value);
  return false;
}

/**
 * `role` (pairRole's) of member `key` of an object at `at`: a parameter or header object, `{"name": "email",
 * "in": "query", "example": …}`, gives its field's value in `example` and `examples` as a pair does in `value`;
 * a parameter object in every spelling of an example or default (PARAM_VALUE_KEYS: Swagger 2.0 writes a
 * parameter's `default` and `enum` beside its `name`).
 */
export function oasPairRole(at: OasAt | undefined, key: string, role: PairRole): PairRole {
  if (role !== PairRole.None || at === undefined) return role;
  if (at.kind === OasKind.Param) return PARAM_VALUE_KEYS.has(key) ? PairRole.Value : role;
  return at.kind === OasKind.Area && (key === "example" || key === "examples") ? PairRole.Value : role;
}

/**
 * Whether member `key` of an object at `at` is a parameter's schema: once the parameter's `name` names a field
 * (before it or after it: held until the object closes), the schema is read as that field's (paramSchema).
 */
export function oasParamSchema(at: OasAt | undefined, key: string): boolean {
  return at?.kind === OasKind.Param && PARAM_SCHEMA_KEYS.has(key);
}

/** The context of the schema of a parameter named `name`, whose field's mask is `field`. */
export function paramSchema(field: FieldAction, name: string | undefined): OasAt {
  return name === undefined ? { kind: OasKind.Schema, field } : { kind: OasKind.Schema, field, name };
}
