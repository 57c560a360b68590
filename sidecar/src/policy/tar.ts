import { RegateError } from "../errors.js";
import { shown } from "./shown.js";

/**
 * Entry types a bundle may hold. Anything else (hard and symbolic links, GNU contiguous files, devices, sparse
 * files, long link names) is refused, not skipped: this reader would ignore it while GNU tar unpacks a contiguous
 * file as a regular one, so a tarball carrying a second `policy.wasm` of that type reads as another bundle to the
 * operator who unpacks the persisted copy. What the signature was checked over is all the tarball holds.
 */
const REGULAR = new Set(["0", "\0"]);
const SKIPPED = new Set(["5"]); // a directory

/** pax records this reader does not apply and other readers do: honoured there, they would cut the same bytes into other files. */
const UNAPPLIED_PAX = /^(size|linkpath)$|^GNU\.sparse\./;

const invalid = (message: string) => new RegateError("BUNDLE_INVALID", message);

/**
 * Minimal ustar reader: regular files only; GNU long names (type L) and pax `path` honoured. Every byte after the
 * end-of-archive block must be zero: data a reader that stops there never sees (another gzip member, entries
 * after one zero block) is data another reader may see.
 */
export function untar(tar: Buffer): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) {
      if (!tar.subarray(offset).every((b) => b === 0)) throw invalid("bundle tarball has data after its end-of-archive block");
      break;
    }
    const checksum = octal(header.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== checksum) throw invalid("bundle tarball is corrupt (bad header checksum)");
    const size = octal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156]!);
    const prefix = cstring(header.subarray(345, 500));
    const baseName = cstring(header.subarray(0, 100));
    const bodyStart = offset + 512;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > tar.length) throw invalid("bundle tarball is truncated");
    const body = tar.subarray(bodyStart, bodyEnd);
    if (type === "L") {
      longName = cstring(body);
    } else if (type === "x") {
      longName = paxPath(body, longName);
    } else if (type === "g") {
      // Its records would apply to every entry after it, which no reader agrees on for a path.
      if (paxPath(body, undefined) !== undefined) throw invalid("bundle tarball has a global pax header naming a path");
    } else {
      const name = (longName ?? (prefix ? `${prefix}/${baseName}` : baseName)).replace(/^\/+/, "").replace(/^\.\//, "");
      longName = undefined;
      if (REGULAR.has(type)) {
        if (name.split("/").includes("..")) throw invalid(`bundle path escapes the bundle: ${shown(name)}`);
        // Two entries of one name (tar -r appends one; "./x" and "/x" are "x"): which one a reader keeps is
        // a choice a signer never saw, so neither is taken.
        if (files.has(name)) throw invalid(`bundle file ${shown(name)} appears twice in the tarball`);
        files.set(name, body);
      } else if (!SKIPPED.has(type)) {
        throw invalid(`bundle entry ${shown(name)} is of tar type ${shown(type)}, not a regular file or directory`);
      }
    }
    offset = bodyStart + Math.ceil(size / 512) * 512;
  }
  if (files.size === 0) throw invalid("bundle tarball holds no files");
  return files;
}

/** The `path` of a pax header's records (`<length> <key>=<value>\n` each), read by their lengths, not searched for. */
function paxPath(body: Buffer, previous: string | undefined): string | undefined {
  let path = previous;
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const length = space > at ? Number(body.subarray(at, space).toString("latin1")) : NaN;
    const record = Number.isSafeInteger(length) && length > 0 && at + length <= body.length ? body.subarray(space + 1, at + length) : undefined;
    const eq = record?.indexOf(0x3d) ?? -1;
    if (!record || eq < 1 || record[record.length - 1] !== 0x0a) throw invalid("bundle tarball is corrupt (bad pax record)");
    const key = record.subarray(0, eq).toString("utf8");
    if (key === "path") path = record.subarray(eq + 1, record.length - 1).toString("utf8");
    else if (UNAPPLIED_PAX.test(key)) throw invalid(`bundle tarball has a pax ${shown(key)} record, which this reader does not apply`);
    at += length;
  }
  return path;
}

function octal(field: Buffer): number {
  const text = cstring(field).trim();
  if (!/^[0-7]*$/.test(text)) throw invalid("bundle tarball is corrupt (bad number field)");
  return text === "" ? 0 : parseInt(text, 8);
}

function cstring(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
}
