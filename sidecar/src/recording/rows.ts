import { DETECTOR_NAMES, maskText, REDACTED } from "../mask/index.js";

// Result rows in recordings (recording.rows): the first rows of each result as the client received them,
// after regate's masks; then every detector over every value, as for HTTP bodies, so a value the policy
// let this agent see but that looks like personal data or a secret is still not kept.

/** The values of one DataRow (the message as sent: type, length, column count, columns). */
export function dataRowValues(raw: Buffer): (string | null)[] {
  const n = raw.readUInt16BE(5);
  const out: (string | null)[] = [];
  let off = 7;
  for (let i = 0; i < n && off + 4 <= raw.length; i++) {
    const len = raw.readInt32BE(off);
    off += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    const bytes = raw.subarray(off, off + len);
    off += len;
    const text = bytes.toString("utf8");
    // Binary-format values (or text that is not UTF-8) are kept as hex, as psql shows bytea.
    out.push(Buffer.from(text, "utf8").equals(bytes) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : `\\x${bytes.toString("hex")}`);
  }
  return out;
}

export function recordableRow(values: (string | null)[]): (string | null)[] {
  return values.map((v) => (v === null ? null : (maskText(v, DETECTOR_NAMES, "redact") ?? REDACTED)));
}
