import type { Decision } from "../decision/index.js";
import { deny } from "./outcomes.js";

/**
 * regate reads what a statement's names resolve to (postgres/approved-objects.ts) on its own catalog
 * connection, which sees only committed definitions. DDL the agent's session sent earlier in its open
 * transaction block (or in a message not yet answered) is invisible there and visible to the statement: a
 * function replaced, a table made a child of the approved one, a temporary view shadowing it. The objects
 * regate read would then not be what runs: a grant would be spent on another statement, a reviewer shown
 * the committed meaning. Such a statement is refused before any approval is asked or grant spent.
 */
export function definitionsUnsettled(d: Decision): Decision {
  return deny(
    d,
    "APPROVAL_REQUIRED",
    "this statement needs approval and cannot be approved now: its session changed definitions (DDL) that are not committed yet, which regate cannot read, so no reviewer could be shown what it would run; it was not run",
    "COMMIT (or ROLLBACK) the DDL first, then run the statement again: on its own, or in a block without DDL before it",
  );
}
