// Statement node type -> kind, and the action/object pair of DDL.
import type { DdlFacts, StatementKind } from "./types.js";
import { str, type Rec } from "./node.js";

const KINDS: Readonly<Record<string, StatementKind>> = {
  SelectStmt: "select",
  InsertStmt: "insert",
  UpdateStmt: "update",
  DeleteStmt: "delete",
  MergeStmt: "merge",
  CopyStmt: "copy",
  TruncateStmt: "truncate",
  GrantStmt: "grant",
  GrantRoleStmt: "grant",
  AlterDefaultPrivilegesStmt: "grant",
  TransactionStmt: "transaction",
  VariableSetStmt: "set",
  VariableShowStmt: "show",
  ExplainStmt: "explain",
  PrepareStmt: "prepare",
  ExecuteStmt: "execute",
  DeallocateStmt: "deallocate",
  DoStmt: "do",
  CallStmt: "call",
  DeclareCursorStmt: "cursor",
  ClosePortalStmt: "cursor",
  FetchStmt: "fetch",
  LockStmt: "lock",
  ListenStmt: "listen",
  UnlistenStmt: "listen",
  NotifyStmt: "notify",
  VacuumStmt: "vacuum",
  DiscardStmt: "utility",
  LoadStmt: "utility",
  ConstraintsSetStmt: "utility",
  // Maintenance, as VACUUM: they rewrite relations, take ACCESS EXCLUSIVE locks, mark the catalog.
  CheckPointStmt: "vacuum",
  ClusterStmt: "vacuum",
  ReindexStmt: "vacuum",
  RefreshMatViewStmt: "vacuum",
};

// Every PostgreSQL 18 statement that changes the schema, roles or server configuration.
const DDL_NODES = new Set([
  "AlterCollationStmt",
  "AlterDatabaseRefreshCollStmt",
  "AlterDatabaseSetStmt",
  "AlterDatabaseStmt",
  "AlterDomainStmt",
  "AlterEnumStmt",
  "AlterEventTrigStmt",
  "AlterExtensionContentsStmt",
  "AlterExtensionStmt",
  "AlterFdwStmt",
  "AlterForeignServerStmt",
  "AlterFunctionStmt",
  "AlterObjectDependsStmt",
  "AlterObjectSchemaStmt",
  "AlterOpFamilyStmt",
  "AlterOperatorStmt",
  "AlterOwnerStmt",
  "AlterPolicyStmt",
  "AlterPublicationStmt",
  "AlterRoleSetStmt",
  "AlterRoleStmt",
  "AlterSeqStmt",
  "AlterStatsStmt",
  "AlterSubscriptionStmt",
  "AlterSystemStmt",
  "AlterTSConfigurationStmt",
  "AlterTSDictionaryStmt",
  "AlterTableMoveAllStmt",
  "AlterTableSpaceOptionsStmt",
  "AlterTableStmt",
  "AlterTypeStmt",
  "AlterUserMappingStmt",
  "CommentStmt",
  "CompositeTypeStmt",
  "CreateAmStmt",
  "CreateCastStmt",
  "CreateConversionStmt",
  "CreateDomainStmt",
  "CreateEnumStmt",
  "CreateEventTrigStmt",
  "CreateExtensionStmt",
  "CreateFdwStmt",
  "CreateForeignServerStmt",
  "CreateForeignTableStmt",
  "CreateFunctionStmt",
  "CreateOpClassStmt",
  "CreateOpFamilyStmt",
  "CreatePLangStmt",
  "CreatePolicyStmt",
  "CreatePublicationStmt",
  "CreateRangeStmt",
  "CreateRoleStmt",
  "CreateSchemaStmt",
  "CreateSeqStmt",
  "CreateStatsStmt",
  "CreateStmt",
  "CreateSubscriptionStmt",
  "CreateTableAsStmt",
  "CreateTableSpaceStmt",
  "CreateTransformStmt",
  "CreateTrigStmt",
  "CreateUserMappingStmt",
  "CreatedbStmt",
  "DefineStmt",
  "DropOwnedStmt",
  "DropRoleStmt",
  "DropStmt",
  "DropSubscriptionStmt",
  "DropTableSpaceStmt",
  "DropUserMappingStmt",
  "DropdbStmt",
  "ImportForeignSchemaStmt",
  "IndexStmt",
  "ReassignOwnedStmt",
  "RenameStmt",
  "RuleStmt",
  "SecLabelStmt",
  "ViewStmt",
]);

export function kindOf(node: string): StatementKind {
  if (DDL_NODES.has(node)) return "ddl";
  return KINDS[node] ?? "unknown";
}

export function isDdl(node: string): boolean {
  return DDL_NODES.has(node);
}

/** OBJECT_MATVIEW -> materialized_view, OBJECT_FOREIGN_TABLE -> foreign_table. */
export function objectName(objtype: unknown): string | undefined {
  const s = str(objtype);
  if (!s) return undefined;
  const bare = s.replace(/^OBJECT_/, "").toLowerCase();
  return OBJECT_ALIASES[bare] ?? bare;
}

const OBJECT_ALIASES: Record<string, string> = {
  matview: "materialized_view",
  fdw: "foreign_data_wrapper",
  foreign_server: "server",
  tsconfiguration: "text_search_configuration",
  tsdictionary: "text_search_dictionary",
  tsparser: "text_search_parser",
  tstemplate: "text_search_template",
  opclass: "operator_class",
  opfamily: "operator_family",
  amop: "operator_family_member",
  amproc: "operator_family_member",
  tabconstraint: "constraint",
  domconstraint: "constraint",
  defacl: "default_privileges",
};

const NODE_OBJECTS: Record<string, string> = {
  CreateStmt: "table",
  CreatedbStmt: "database",
  DropdbStmt: "database",
  AlterDatabaseStmt: "database",
  AlterDatabaseSetStmt: "database",
  AlterDatabaseRefreshCollStmt: "database",
  CreateSeqStmt: "sequence",
  AlterSeqStmt: "sequence",
  CreateTrigStmt: "trigger",
  CreateEventTrigStmt: "event_trigger",
  AlterEventTrigStmt: "event_trigger",
  CreatePLangStmt: "language",
  CreateFdwStmt: "foreign_data_wrapper",
  AlterFdwStmt: "foreign_data_wrapper",
  CreateForeignServerStmt: "server",
  AlterForeignServerStmt: "server",
  CreateForeignTableStmt: "foreign_table",
  CreateAmStmt: "access_method",
  CreateOpClassStmt: "operator_class",
  CreateOpFamilyStmt: "operator_family",
  AlterOpFamilyStmt: "operator_family",
  CreateStatsStmt: "statistics",
  AlterStatsStmt: "statistics",
  CreateRoleStmt: "role",
  AlterRoleStmt: "role",
  AlterRoleSetStmt: "role",
  DropRoleStmt: "role",
  CreateConversionStmt: "conversion",
  CreateCastStmt: "cast",
  CreateTransformStmt: "transform",
  CreateEnumStmt: "type",
  AlterEnumStmt: "type",
  CreateRangeStmt: "type",
  CompositeTypeStmt: "type",
  AlterTypeStmt: "type",
  CreateDomainStmt: "domain",
  AlterDomainStmt: "domain",
  CreateTableSpaceStmt: "tablespace",
  DropTableSpaceStmt: "tablespace",
  AlterTableSpaceOptionsStmt: "tablespace",
  AlterTableMoveAllStmt: "table",
  CreateExtensionStmt: "extension",
  AlterExtensionStmt: "extension",
  AlterExtensionContentsStmt: "extension",
  CreatePolicyStmt: "policy",
  AlterPolicyStmt: "policy",
  CreatePublicationStmt: "publication",
  AlterPublicationStmt: "publication",
  CreateSubscriptionStmt: "subscription",
  AlterSubscriptionStmt: "subscription",
  DropSubscriptionStmt: "subscription",
  CreateUserMappingStmt: "user_mapping",
  AlterUserMappingStmt: "user_mapping",
  DropUserMappingStmt: "user_mapping",
  CreateSchemaStmt: "schema",
  IndexStmt: "index",
  ViewStmt: "view",
  RuleStmt: "rule",
  AlterSystemStmt: "system",
  AlterCollationStmt: "collation",
  AlterOperatorStmt: "operator",
  AlterTSDictionaryStmt: "text_search_dictionary",
  AlterTSConfigurationStmt: "text_search_configuration",
  ImportForeignSchemaStmt: "foreign_schema",
  ReassignOwnedStmt: "owned",
  DropOwnedStmt: "owned",
  GrantRoleStmt: "role",
  AlterDefaultPrivilegesStmt: "default_privileges",
};

export function ddlOf(node: string, b: Rec): DdlFacts {
  let action: string;
  if (node.startsWith("Create") || node === "CompositeTypeStmt" || node === "DefineStmt" || node === "IndexStmt" || node === "ViewStmt" || node === "RuleStmt") action = "create";
  else if (node.startsWith("Alter")) action = "alter";
  else if (node.startsWith("Drop")) action = "drop";
  else if (node === "RenameStmt") action = "rename";
  else if (node === "CommentStmt") action = "comment";
  else if (node === "SecLabelStmt") action = "security_label";
  else if (node === "ImportForeignSchemaStmt") action = "import";
  else if (node === "ReassignOwnedStmt") action = "reassign";
  else if (node === "GrantStmt" || node === "GrantRoleStmt") action = b.is_grant === true ? "grant" : "revoke";
  else action = node.replace(/Stmt$/, "").toLowerCase();
  if (node === "ViewStmt" && b.replace === true) action = "create_or_replace";
  if (node === "CreateFunctionStmt") return { action: b.replace === true ? "create_or_replace" : "create", object: b.is_procedure === true ? "procedure" : "function" };
  if (node === "AlterFunctionStmt") return { action, object: objectName(b.objtype) ?? "function" };
  if (node === "DropStmt") return { action, object: objectName(b.removeType) ?? "object" };
  if (node === "RenameStmt") return { action, object: objectName(b.renameType) ?? "object" };
  if (node === "DefineStmt") return { action, object: objectName(b.kind) ?? "object" };
  if (node === "AlterOwnerStmt" || node === "AlterObjectSchemaStmt" || node === "AlterObjectDependsStmt") {
    return { action, object: objectName(b.objectType) ?? "object" };
  }
  const fromField = objectName(b.objtype);
  if (fromField && (node === "AlterTableStmt" || node === "CreateTableAsStmt" || node === "CommentStmt" || node === "SecLabelStmt" || node === "GrantStmt")) {
    return { action, object: fromField };
  }
  return { action, object: NODE_OBJECTS[node] ?? node.replace(/^(Create|Alter|Drop)/, "").replace(/Stmt$/, "").toLowerCase() };
}
