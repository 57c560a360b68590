import { fieldNameFold } from "../http/field-names.js";
import { REDACTED } from "./strategies.js";

// Statements that carry a credential in a literal: `CREATE/ALTER ROLE|USER ... PASSWORD '…'`, user mappings'
// `OPTIONS (password '…')`, dblink's and postgres_fdw's connection strings (`password=…`), URLs with a password
// (`postgresql://u:pw@h`). Postgres takes these from any agent allowed to run them, and no mask rule of a policy
// names them, so what keeps a statement's text (a recording, an exported event) drops their literals whatever
// the decision was.

const CREDENTIAL = /\bpassword\b|\bpasswd\b|\buser\s+mapping\b|\bdblink|\bconninfo\b|:\/\/[^\s/:@']*:[^\s/@']*@/i;

/** Quoted literals: '...' ('' inside), E'...' (backslash escapes), $tag$...$tag$. */
export const SQL_LITERAL = /[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g;

export function namesCredential(sql: string | undefined): boolean {
  return sql !== undefined && CREDENTIAL.test(sql);
}

/** `sql` with every quoted literal replaced by `'****'` when the statement names a credential; as is otherwise. */
export function maskCredentialLiterals(sql: string): string {
  return namesCredential(sql) ? sql.replace(SQL_LITERAL, `'${REDACTED}'`) : sql;
}

/**
 * Names under which a request carries a credential of its own (`?access_token=`, `{"password": …}`, a
 * presigned URL's `X-Amz-Signature`): the agent's credentials for the upstream, not regate's, but a live
 * credential all the same. What keeps a request (a recording, an exported event) keeps the name, not the value.
 * Compared by spelling, as field rules compare names (http/field-names.ts): look-alike and invisible
 * characters folded, lower-case, `-`, `_`, `.` and spaces removed (`Api Key`, `pass\u200bword`).
 */
const CREDENTIAL_NAMES = new Set(["password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "auth", "authorization", "credential", "credentials", "cookie", "apikey", "accesskey", "secretkey", "privatekey", "sig", "signature", "sessionid", "sessiontoken"]);
const CREDENTIAL_SUFFIXES = ["token", "secret", "password", "apikey", "signature", "credential", "privatekey", "accesskey", "sessionid"];

const spelled = fieldNameFold("spelling");

export function isCredentialName(name: string): boolean {
  const n = spelled(name);
  return CREDENTIAL_NAMES.has(n) || CREDENTIAL_SUFFIXES.some((s) => n.endsWith(s));
}

/** A query string with the value of every credential-named parameter replaced by `****`. */
export function maskCredentialQuery(query: string): string {
  if (!query) return query;
  return query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // A name that does not decode is judged as written.
      }
      return isCredentialName(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join("&");
}
