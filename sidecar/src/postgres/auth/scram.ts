import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { RegateError } from "../../errors.js";

// SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL speaks it: the server side towards agents, the
// client side towards the upstream database. No channel binding (-PLUS) on the agent side.

const ITERATIONS = 4096;

const hmac = (key: Buffer, data: string | Buffer) => createHmac("sha256", key).update(data).digest();
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((v, i) => v ^ b[i]!));

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Derived once per agent token at boot; the token itself is not kept by the SCRAM code. */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = ITERATIONS): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  return { salt, iterations, storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") };
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** Server side of one SCRAM exchange. */
export class ScramServer {
  #clientFirstBare = "";
  #serverFirst = "";
  #gs2 = "";
  #nonce = "";

  constructor(private readonly verifier: ScramVerifier | undefined) {}

  /** client-first-message -> server-first-message. An unknown user gets a fake but plausible challenge. */
  first(clientFirst: string): string {
    const m = /^([ny](?:=[^,]*)?,[^,]*,)(.*)$/.exec(clientFirst);
    if (!m) {
      if (clientFirst.startsWith("p=")) throw new RegateError("AUTH_FAILED", "channel binding is not supported by regate; use channel_binding=disable or prefer");
      throw new RegateError("PROTOCOL_VIOLATION", "malformed SCRAM client-first-message");
    }
    this.#gs2 = m[1]!;
    this.#clientFirstBare = m[2]!;
    const clientNonce = attributes(this.#clientFirstBare).get("r");
    if (!clientNonce) throw new RegateError("PROTOCOL_VIOLATION", "SCRAM client nonce missing");
    this.#nonce = clientNonce + randomBytes(18).toString("base64");
    const v = this.verifier ?? scramVerifier(randomBytes(16).toString("hex"));
    this.#serverFirst = `r=${this.#nonce},s=${v.salt.toString("base64")},i=${v.iterations}`;
    return this.#serverFirst;
  }

  /** client-final-message -> server-final-message, or throws AUTH_FAILED. */
  final(clientFinal: string): string {
    const attrs = attributes(clientFinal);
    const proofB64 = attrs.get("p");
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(",p="));
    if (!proofB64 || attrs.get("r") !== this.#nonce || attrs.get("c") !== Buffer.from(this.#gs2).toString("base64")) {
      throw new RegateError("AUTH_FAILED");
    }
    const v = this.verifier;
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const proof = Buffer.from(proofB64, "base64");
    if (!v || proof.length !== 32) throw new RegateError("AUTH_FAILED");
    const clientKey = xor(proof, hmac(v.storedKey, authMessage));
    if (!timingSafeEqual(sha256(clientKey), v.storedKey)) throw new RegateError("AUTH_FAILED");
    return `v=${hmac(v.serverKey, authMessage).toString("base64")}`;
  }
}

/** Client side of one SCRAM exchange with the upstream server. */
export class ScramClient {
  readonly #nonce = randomBytes(18).toString("base64");
  #clientFirstBare = "";
  #serverSignature: Buffer | undefined;
  #keys: string[] = [];

  constructor(private readonly password: string) {}

  /** The role's StoredKey and ServerKey as pg_authid.rolpassword spells them (base64), once final() ran. */
  keys(): string[] {
    return this.#keys;
  }

  first(): string {
    this.#clientFirstBare = `n=*,r=${this.#nonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const a = attributes(serverFirst);
    const nonce = a.get("r");
    const salt = a.get("s");
    const iterations = Number(a.get("i"));
    if (!nonce?.startsWith(this.#nonce) || !salt || !Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000) {
      throw new RegateError("UPSTREAM_AUTH_FAILED", "upstream sent an invalid SCRAM challenge");
    }
    const salted = pbkdf2Sync(this.password.normalize("NFKC"), Buffer.from(salt, "base64"), iterations, 32, "sha256");
    const clientKey = hmac(salted, "Client Key");
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    const serverKey = hmac(salted, "Server Key");
    this.#serverSignature = hmac(serverKey, authMessage);
    this.#keys = [sha256(clientKey).toString("base64"), serverKey.toString("base64")];
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** The server proves it knew the password too; a mismatch means a server in the middle. */
  verify(serverFinal: string): void {
    const v = attributes(serverFinal).get("v");
    const got = v ? Buffer.from(v, "base64") : undefined;
    if (!got || !this.#serverSignature || got.length !== this.#serverSignature.length || !timingSafeEqual(got, this.#serverSignature)) {
      throw new RegateError("UPSTREAM_AUTH_FAILED", "upstream SCRAM server signature does not match");
    }
  }
}

export function md5Password(user: string, password: string, salt: Buffer): string {
  return `md5${createHash("md5").update(Buffer.concat([Buffer.from(md5Secret(user, password)), salt])).digest("hex")}`;
}

/**
 * The hash PostgreSQL stores for an md5 password (pg_authid.rolpassword is `md5` and these 32 hex digits): md5
 * authentication answers the challenge from it alone, so whoever reads it logs in as the role. A secret as the
 * password is (app-recording.ts heldSecrets, postgres/server.ts).
 */
export function md5Secret(user: string, password: string): string {
  return createHash("md5").update(password + user).digest("hex");
}
