/** A Bind parameter as the policy sees it. NULL stays distinct from ''. */
export interface ParameterInput {
  value: string | null;
  format: "text" | "binary";
  type_oid: number;
  /** Binary values of types regate does not decode are given as base64. */
  encoding?: "base64";
  /** The value was longer than regate passes to the policy; `value` holds its start. */
  truncated?: true;
}

const MAX_PARAM_CHARS = 4096;

/** Decodes the binary send formats of the common scalar types; others stay opaque (base64). */
function decodeBinary(v: Buffer, oid: number): { value: string; encoding?: "base64" } {
  switch (oid) {
    case 16: // bool
      if (v.length === 1) return { value: v[0] ? "true" : "false" };
      break;
    case 21: // int2
      if (v.length === 2) return { value: String(v.readInt16BE(0)) };
      break;
    case 23: // int4
    case 26: // oid
      if (v.length === 4) return { value: String(oid === 26 ? v.readUInt32BE(0) : v.readInt32BE(0)) };
      break;
    case 20: // int8
      if (v.length === 8) return { value: v.readBigInt64BE(0).toString() };
      break;
    case 700:
      if (v.length === 4) return { value: String(v.readFloatBE(0)) };
      break;
    case 701:
      if (v.length === 8) return { value: String(v.readDoubleBE(0)) };
      break;
    case 25:
    case 1043:
    case 1042:
    case 19:
    case 114: // json
      return { value: v.toString("utf8") };
    case 3802: // jsonb: version byte then text
      if (v[0] === 1) return { value: v.toString("utf8", 1) };
      break;
    case 2950: // uuid
      if (v.length === 16) {
        const h = v.toString("hex");
        return { value: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
      }
      break;
  }
  return { value: v.toString("base64"), encoding: "base64" };
}

export function parameterInputs(values: readonly (Buffer | null)[], formats: readonly number[], typeOids: readonly number[]): ParameterInput[] {
  // A loop rather than map(): no closure per Bind.
  const out: ParameterInput[] = [];
  for (let i = 0; i < values.length; i++) out.push(parameterInput(values[i] as Buffer | null, formats[i] === 1, typeOids[i] ?? 0));
  return out;
}

function parameterInput(v: Buffer | null, binary: boolean, type_oid: number): ParameterInput {
  if (v === null) return { value: null, format: binary ? "binary" : "text", type_oid };
  if (!binary) return capped({ value: v.toString("utf8"), format: "text", type_oid });
  const d = decodeBinary(v, type_oid);
  return capped({ value: d.value, format: "binary", type_oid, ...(d.encoding ? { encoding: d.encoding } : {}) });
}

function capped(p: ParameterInput): ParameterInput {
  if (p.value === null || p.value.length <= MAX_PARAM_CHARS) return p;
  return { ...p, value: p.value.slice(0, MAX_PARAM_CHARS), truncated: true };
}

/** Binary formats whose decoded text names exactly one value of the bytes (bool and floats do not: 0x02 and -0). */
const EXACT_BINARY = new Set([20, 21, 23, 26, 2950]);
const TEXT_BINARY = new Set([25, 1043, 1042, 19, 114]);

/**
 * The Bind parameters as an approval's digest covers them: the policy's view where it is the exact bytes
 * (so the digest of an ordinary statement is the documented one), base64 of the bytes where the view is
 * not (a value cut at MAX_PARAM_CHARS, text that is not valid UTF-8, a binary value whose decoding folds
 * several byte strings into one). Two Binds with the same digest send the server the same parameters.
 */
export function digestParameters(values: readonly (Buffer | null)[], formats: readonly number[], typeOids: readonly number[]): ParameterInput[] {
  const view = parameterInputs(values, formats, typeOids);
  return view.map((p, i) => {
    const v = values[i];
    if (v === null || v === undefined || p.encoding === "base64") return p;
    const exact = !p.truncated && (p.format === "text" || EXACT_BINARY.has(p.type_oid) || TEXT_BINARY.has(p.type_oid)) && roundTrips(p, v);
    return exact ? p : { value: v.toString("base64"), format: p.format, type_oid: p.type_oid, encoding: "base64" };
  });
}

function roundTrips(p: ParameterInput, v: Buffer): boolean {
  // Decoded numbers and uuids are checked by their fixed lengths in decodeBinary; text must re-encode to the bytes sent.
  if (p.format === "binary" && EXACT_BINARY.has(p.type_oid)) return true;
  return p.value !== null && Buffer.byteLength(p.value, "utf8") === v.length && Buffer.from(p.value, "utf8").equals(v);
}
