// The grammar of the streaming JSON masker (json-stream.ts): text in, chunk by chunk, output text out, with
// structure and unmasked tokens copied as they came. What a completed token becomes is json-stream-tokens.ts,
// containers that may be byte values are json-stream-bytes.ts, name/value pairs json-stream-pairs.ts.

import { RegateError } from "../errors.js";
import { childRule, decodedString, keyText, literalText, schemaRule, stringText, syntax, type Frame, type ValueRule } from "./json-stream-tokens.js";
import { openApiRoot, openApiRootMember } from "./openapi-schemas.js";
import { PairHolds } from "./json-stream-pairs.js";
import { ByteCaptures } from "./json-stream-bytes.js";
import { MAX_DEPTH } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";

const enum Expect {
  Value,
  /** After "[": a value or "]". */
  ValueOrClose,
  /** After "{": a key or "}". */
  KeyOrClose,
  Key,
  Colon,
  CommaOrClose,
  End,
}

const enum Token {
  None,
  Key,
  String,
  Literal,
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const endsLiteral = (c: number): boolean => isWs(c) || c === 0x2c || c === 0x5d || c === 0x7d;

/**
 * One document's grammar state. The grammar is checked as strictly as JSON.parse; a document that breaks it,
 * nests deeper than MAX_DEPTH or has a token over `maxTokenChars` throws.
 */
export class StreamScanner {
  readonly #masker: ResponseMasker;
  readonly #maxTokenChars: number;
  readonly #frames: Frame[] = [];
  readonly #path: string[] = [];
  #expect = Expect.Value;
  #next: ValueRule;
  #token = Token.None;
  #tok = "";
  #escape = false;
  #escaped = false;
  #out = "";
  /** A container that may be text as byte values, held until it is not or closes (json-stream-bytes.ts). */
  readonly #byteValues = new ByteCaptures();
  /** Values of name/value pairs and entries held until their container says what they are (json-stream-pairs.ts). */
  readonly #holds = new PairHolds();
  /** The root object's first key, while its value may say the document is OpenAPI (openapi-schemas.ts). */
  #rootFirst: string | undefined;

  constructor(masker: ResponseMasker, maxTokenChars: number) {
    this.#masker = masker;
    this.#maxTokenChars = maxTokenChars;
    this.#next = masker.detect ? { detect: masker.detect } : {};
  }

  /** Text that goes out before the document as it came. */
  lead(text: string): void {
    this.#out = text + this.#out;
  }

  /**
   * The output ready to go out, taken; undefined while a value is held (a pair's value, a container that may
   * be bytes), whose output may still be rewritten: refused once it outgrows `maxTokenChars`.
   */
  take(): string | undefined {
    if (this.#holds.holding) {
      this.#holds.check(this.#out.length, this.#maxTokenChars);
      return undefined;
    }
    if (this.#byteValues.active) {
      this.#byteValues.check(this.#out.length, this.#maxTokenChars);
      return undefined;
    }
    const out = this.#out;
    this.#out = "";
    return out;
  }

  /** The text has ended: throws unless it was one whole document. */
  end(): void {
    if (this.#token === Token.Literal) this.#endLiteral();
    if (this.#token !== Token.None || this.#expect !== Expect.End) throw syntax("unexpected end");
  }

  scan(text: string): void {
    let copyFrom = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (this.#token === Token.Key || this.#token === Token.String) {
        const start = i;
        let closed = false;
        for (; i < n; i++) {
          if (this.#escape) {
            this.#escape = false;
            continue;
          }
          const c = text.charCodeAt(i);
          if (c === 0x22) {
            closed = true;
            i++;
            break;
          }
          if (c === 0x5c) {
            this.#escape = true;
            this.#escaped = true;
          } else if (c < 0x20) throw syntax("control character in a string");
        }
        this.#grow(text.slice(start, i));
        if (!closed) break;
        if (this.#token === Token.Key) this.#endKey();
        else this.#endString();
        copyFrom = i;
        continue;
      }
      if (this.#token === Token.Literal) {
        const start = i;
        while (i < n && !endsLiteral(text.charCodeAt(i))) i++;
        this.#grow(text.slice(start, i));
        if (i >= n) break;
        this.#endLiteral();
        copyFrom = i;
        continue;
      }
      const c = text.charCodeAt(i);
      if (isWs(c)) {
        i++;
        continue;
      }
      // A token starts or structure follows: what passed untouched so far goes out as it came. While a value is
      // held, punctuation goes out at once too, so that the held value's end is where the output ends.
      if (c === 0x22 || (c !== 0x2c && c !== 0x3a && c !== 0x5d && c !== 0x7d) || this.#byteValues.active || this.#holds.holding) {
        this.#put(text.slice(copyFrom, i));
        copyFrom = i;
      }
      this.#structural(c);
      if (this.#byteValues.closed) {
        this.#put(text[i]!);
        copyFrom = i + 1;
        this.#out = this.#byteValues.end(this.#masker, this.#out);
      }
      if (this.#token === Token.None) i++;
      else if (this.#token === Token.Literal) copyFrom = i;
      else {
        this.#tok = '"';
        i++;
        copyFrom = i;
      }
    }
    if (this.#token === Token.None) this.#put(text.slice(copyFrom, n));
  }

  /** Text as it came into the output. */
  #put(raw: string): void {
    this.#out += raw;
    this.#holds.add(raw);
  }

  #grow(piece: string): void {
    this.#tok += piece;
    if (this.#tok.length > this.#maxTokenChars) throw new RegateError("MASK_LINEAGE_UNKNOWN", "a JSON value is larger than regate masks");
  }

  /** One structural character (or the first character of a token) where `#expect` says what may come. */
  #structural(c: number): void {
    const e = this.#expect;
    const top = this.#frames.at(-1);
    if (e === Expect.Value || e === Expect.ValueOrClose) {
      if (e === Expect.ValueOrClose && c === 0x5d) return this.#close();
      if (top && !top.object) this.#element(top);
      if (this.#frames.length > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
      this.#holds.valueStarts(top, c, this.#out.length, this.#next.detect, this.#path);
      if (c === 0x7b || c === 0x5b) {
        this.#rootFirst = undefined;
        const rule = schemaRule(this.#next, c);
        this.#frames.push({ object: c === 0x7b, rule, index: 0, pathLen: this.#path.length, entry: c === 0x5b && top !== undefined && !top.object, pair: undefined });
        this.#byteValues.open(this.#masker, rule, this.#out.length, this.#frames.length, this.#path);
        this.#expect = c === 0x7b ? Expect.KeyOrClose : Expect.ValueOrClose;
        return;
      }
      this.#token = c === 0x22 ? Token.String : Token.Literal;
      if (c === 0x22) this.#byteValues.string();
      this.#escaped = false;
      if (c !== 0x22) this.#tok = "";
      return;
    }
    if (e === Expect.KeyOrClose || e === Expect.Key) {
      if (e === Expect.KeyOrClose && c === 0x7d) return this.#close();
      if (c !== 0x22) throw syntax("expected a key");
      this.#token = Token.Key;
      this.#escaped = false;
      return;
    }
    if (e === Expect.Colon) {
      if (c !== 0x3a) throw syntax("expected ':'");
      this.#expect = Expect.Value;
      return;
    }
    if (e === Expect.CommaOrClose && top) {
      if (top.pair?.open) this.#holds.end(top, this.#out.length);
      if (c === 0x2c) {
        this.#expect = top.object ? Expect.Key : Expect.Value;
        return;
      }
      if (c === (top.object ? 0x7d : 0x5d)) return this.#close();
    }
    throw syntax(`unexpected '${String.fromCharCode(c)}'`);
  }

  /** An array element starts: its rule comes from its index (pointers) and the array's rule. */
  #element(array: Frame): void {
    this.#next = childRule(this.#masker, this.#path, array, String(array.index++), false);
    if (this.#masker.hasNamedFields) this.#holds.element(array, this.#next);
  }

  #close(): void {
    const closing = this.#frames.at(-1);
    if (closing?.pair !== undefined && closing.pair.held.length > 0) this.#out = this.#holds.resolve(closing, this.#out, this.#masker, this.#frames.length);
    this.#byteValues.close(this.#frames.length);
    this.#frames.pop();
    const parent = this.#frames.at(-1);
    if (this.#masker.hasPointers) this.#path.length = parent?.pathLen ?? 0;
    this.#expect = parent ? Expect.CommaOrClose : Expect.End;
  }

  #valueDone(): void {
    this.#token = Token.None;
    this.#tok = "";
    const parent = this.#frames.at(-1);
    if (parent && this.#masker.hasPointers) this.#path.length = parent.pathLen;
    this.#expect = parent ? Expect.CommaOrClose : Expect.End;
  }

  #endKey(): void {
    const object = this.#frames.at(-1)!;
    const key = decodedString(this.#tok, this.#escaped);
    if (this.#frames.length === 1 && object.index++ === 0 && this.#masker.hasNamedFields) this.#rootFirst = key;
    this.#byteValues.key(key);
    this.#out += keyText(this.#masker, object, key, this.#tok);
    this.#holds.add(this.#tok);
    this.#next = childRule(this.#masker, this.#path, object, key, true);
    if (this.#masker.hasNamedFields && object.rule.whole === undefined) this.#next = this.#holds.member(object, key, this.#next);
    this.#token = Token.None;
    this.#tok = "";
    this.#expect = Expect.Colon;
  }

  #endString(): void {
    const frame = this.#frames.at(-1);
    this.#holds.stringRead(frame, this.#tok, this.#escaped, this.#masker);
    const first = this.#rootFirst;
    if (first !== undefined && frame !== undefined && this.#frames.length === 1) {
      this.#rootFirst = undefined;
      if (openApiRootMember(first, decodedString(this.#tok, this.#escaped))) frame.rule = { ...frame.rule, oas: openApiRoot() };
    }
    const rule = this.#next.oas?.field === undefined ? this.#next : schemaRule(this.#next, 0x22, decodedString(this.#tok, this.#escaped), true);
    this.#out += stringText(this.#masker, rule, this.#tok, this.#escaped, this.#frames.length, this.#path);
    this.#holds.add(this.#tok);
    this.#valueDone();
  }

  #endLiteral(): void {
    this.#rootFirst = undefined;
    this.#byteValues.literal(this.#tok);
    const rule = this.#next.oas?.field === undefined ? this.#next : schemaRule(this.#next, 0, this.#tok);
    this.#out += literalText(this.#masker, rule, this.#tok);
    this.#holds.add(this.#tok);
    this.#valueDone();
  }
}
