import { md5Secret } from "./auth/scram.js";
import { secretForms } from "./lifecycle/mask-rows.js";
import { MIN_LENGTH } from "./secret-data.js";

// regate's upstream password and the texts that stand for it: the md5 hash PostgreSQL keeps for an md5 role
// (md5 authentication takes it in place of the password) and a SCRAM role's StoredKey and ServerKey (with them
// a server can be impersonated, and one overheard exchange yields the key that logs in). An upstream role that
// may read pg_authid (a superuser, say) gets them back from
// `SELECT rolpassword FROM pg_authid`: each is withheld wherever the password is.

/**
 * A hash is withheld as pg_authid spells it (rolpassword as text, or inside a row's JSON, where hex and base64
 * need no escape), not in the password's other spellings: those are how an operator might store a password,
 * and every form is one more search of each chunk the server sends. An agent that re-spells the hash in SQL
 * (encode, upper, substr) still gets it: regate withholds spellings, it cannot follow every function of a value.
 */
function derivedForms(texts: readonly string[]): Buffer[] {
  return texts.map((t) => Buffer.from(t, "utf8"));
}

/** A role regate logs in as besides the upstream one. */
export interface StoreLogin {
  user: string;
  password: string | undefined;
}

/** Names the passwords a set of forms was made from. */
export function secretsKey(password: string | undefined, stores: readonly StoreLogin[]): string {
  return [password, ...stores.map((s) => s.password)].map((p) => p ?? "").join("\u0000");
}

/** Each form once (a rotation of a store role's password carries the unchanged upstream one's forms over). */
function distinct(forms: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return forms.filter((f) => {
    const k = f.toString("latin1");
    return !seen.has(k) && (seen.add(k), true);
  });
}

function longestFirst(forms: Buffer[]): Buffer[] {
  return forms.sort((a, b) => b.length - a.length);
}

/**
 * The forms of one password for one upstream role, as each session is given them. The arrays grow in place
 * when a SCRAM exchange tells the keys: sessions hold them and read them for every message.
 */
export class UpstreamSecrets {
  /** Withheld from errors, notices and a FunctionCall's result. */
  readonly all: Buffer[];
  /** Overwritten in everything else: the password's own forms only when it is long enough (secret-data.ts). */
  readonly data: Buffer[];
  readonly #learned = new Set<string>();
  /** The upstream password's own forms, its md5 hash and the SCRAM keys learned: what a rotation carries over. */
  readonly #upstream: Buffer[];

  /** What `password` and each store role's password were when the forms were made: a change makes new ones. */
  readonly key: string;

  /**
   * `stores`: the other roles regate logs in as on the same server (approvals.store_login, the recording
   * store): whoever reads their hash writes approvals or recordings as regate.
   */
  constructor(
    readonly password: string | undefined,
    user: string,
    previous: readonly Buffer[] = [],
    stores: readonly StoreLogin[] = [],
  ) {
    const roles = [{ user, password }, ...stores].flatMap((r) => (r.password ? [{ user: r.user, password: r.password }] : []));
    this.key = secretsKey(password, stores);
    const own = roles.flatMap((r) => secretForms(r.password));
    const long = roles.filter((r) => r.password.length >= MIN_LENGTH).flatMap((r) => secretForms(r.password));
    // 32 hex digits spell no name an agent reads: withheld in data whatever the password's length.
    const derived = derivedForms(roles.map((r) => md5Secret(r.user, r.password)));
    const previousData = password !== undefined && password.length >= MIN_LENGTH ? previous : [];
    this.#upstream = [...secretForms(password), ...(password ? derivedForms([md5Secret(user, password)]) : [])];
    this.all = longestFirst(distinct([...own, ...derived, ...previous]));
    this.data = longestFirst(distinct([...long, ...previousData, ...derived]));
  }

  /**
   * The forms a rotation keeps withheld (`previous` of the next UpstreamSecrets): every one of this password,
   * whatever its length. Not the store roles' (the next one is made with theirs) nor an older password's.
   */
  carried(): Buffer[] {
    return [...this.#upstream];
  }

  /** Texts a SCRAM exchange with this password told (base64 StoredKey and ServerKey): withheld from now on. */
  learn(texts: readonly string[]): void {
    const fresh = texts.filter((t) => !this.#learned.has(t));
    if (fresh.length === 0) return;
    for (const t of fresh) this.#learned.add(t);
    const forms = derivedForms(fresh);
    this.#upstream.push(...forms);
    this.all.push(...forms);
    longestFirst(this.all);
    this.data.push(...forms);
    longestFirst(this.data);
  }
}
