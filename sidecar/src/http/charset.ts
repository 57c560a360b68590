// Response bodies in a character encoding where ASCII is not spelled as ASCII. Masks and the leak guard read
// text as UTF-8 (and so as ASCII for every value they look for); an agent that decodes the body as its
// Content-Type or byte order mark says reads a credential or a masked value regate never saw. Such bodies are
// refused wherever regate inspects the response.

import { Transform, type TransformCallback } from "node:stream";
import { isWideText, mediaType } from "./body.js";

/** The EBCDIC code pages IANA and ICU name (cp500, ibm037, ...): letters and digits sit elsewhere than in ASCII. */
const EBCDIC_PAGES = "037|273|277|278|280|284|285|290|297|420|423|424|500|833|836|838|870|871|875|880|905|918|924|930|933|935|937|939|1025|1026|1047|1097|1112|1122|1123|1130|1132|1137|114\\d";

/**
 * Charsets whose bytes for ASCII text differ from ASCII, by family: UTF-16 and UTF-32 (and their UCS, Java and
 * Microsoft names), UTF-7 (which may spell any character as base64), UTF-1 and the EBCDIC code pages. Every
 * other charset a client knows (ISO-8859-*, windows-*, Shift_JIS, GB18030, ...) spells ASCII as ASCII.
 */
const FAMILIES: ReadonlyArray<[family: string, pattern: RegExp]> = [
  ["UTF-32", /^(?:utf-?32|ucs-?4|csutf32)/],
  ["UTF-16", /^(?:utf-?16|x-utf-16|ucs-?2|unicode(?!-1-1-utf-8)|csunicode|iso-10646|csutf16)/],
  ["UTF-7", /^(?:utf-?7|csutf7)/],
  ["UTF-1", /^utf-?1$/],
  ["EBCDIC", new RegExp(`^(?:.*ebcdic|cp-?(?:${EBCDIC_PAGES})\\b|ibm-?(?:${EBCDIC_PAGES})\\b|csibm(?:${EBCDIC_PAGES})\\b)`)],
];

const CHARSET_PARAM = /;\s*charset\s*=\s*("?)([^";,\s]*)\1/gi;

/**
 * The family of a declared charset that does not spell ASCII as ASCII, for the refusal's reason; else
 * undefined. Every charset parameter counts (Python's requests reads the last, others the first). Never the
 * value itself: the upstream wrote it, and an echo may have put anything after "utf-16".
 */
export function foreignCharset(contentType: string | string[] | undefined): string | undefined {
  if (typeof contentType !== "string" || !/charset/i.test(contentType)) return undefined;
  for (const m of contentType.matchAll(CHARSET_PARAM)) {
    const cs = m[2]!.toLowerCase();
    for (const [family, pattern] of FAMILIES) if (pattern.test(cs)) return family;
  }
  return undefined;
}

/**
 * A type a client reads as text, so that it may sniff UTF-16 from the bytes: none at all, text/*, JSON, XML,
 * JavaScript, forms. Other types are binary formats in which NUL bytes mean nothing about text. Event streams
 * are UTF-8 whatever their bytes (the SSE standard), and are not held back for a sniff: an agent waits for
 * their head before the first event comes.
 */
export function textual(contentType: string | string[] | undefined): boolean {
  const type = mediaType(typeof contentType === "string" ? contentType : undefined);
  return (
    type === undefined ||
    (type.startsWith("text/") && type !== "text/event-stream") ||
    type.includes("json") ||
    type.endsWith("xml") ||
    type.endsWith("javascript") ||
    type.endsWith("ecmascript") ||
    type === "application/x-www-form-urlencoded"
  );
}

/** What the first bytes of a body say about its encoding: UTF-16 or UTF-32 by byte order mark or NULs. */
export const WIDE_TEXT = "text in UTF-16 or UTF-32 (by its byte order mark or NUL bytes)";

/** Bytes read before the body's encoding is judged (RFC 4627 3 reads four). */
const SNIFF_BYTES = 4;

/**
 * Passes a (decoded) body through once its first bytes show it is not UTF-16 or UTF-32, and fails with a
 * WideTextError otherwise. `checked` is emitted once, before the first byte is passed on (or at the end of an
 * empty or short body): a caller writes the response head then, so a refusal can still be a clean answer.
 */
export class WideTextGuard extends Transform {
  #head: Buffer[] = [];
  #size = 0;
  #checked = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#checked) return done(null, chunk);
    this.#head.push(chunk);
    this.#size += chunk.length;
    if (this.#size < SNIFF_BYTES) return done();
    this.#release(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.#checked) return done();
    this.#release(done);
  }

  #release(done: TransformCallback): void {
    const head = Buffer.concat(this.#head, this.#size);
    this.#head = [];
    if (isWideText(head)) return done(new WideTextError());
    this.#checked = true;
    this.emit("checked");
    done(null, head.length > 0 ? head : undefined);
  }
}

export class WideTextError extends Error {
  constructor() {
    super(WIDE_TEXT);
    this.name = "WideTextError";
  }
}
