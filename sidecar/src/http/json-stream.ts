// Masks a JSON response as it streams: the same rules as ResponseMasker.maskJsonText, applied token by token.

import { Transform, type TransformCallback } from "node:stream";
import { RegateError } from "../errors.js";
import { childRule, decodedString, keyText, literalText, stringText, syntax, withAction, type Frame, type ValueRule } from "./json-stream-tokens.js";
import { newPair, PairHolds } from "./json-stream-pairs.js";
import { pairRole, PairRole } from "./field-names.js";
import { MAX_DEPTH, mergeActions } from "./mask-actions.js";
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

/** A container being held whole while it may be text as byte values (byte-arrays.ts), from `start` of #out. */
interface ByteCapture {
  start: number;
  /** #frames.length while the container is the current one. */
  depth: number;
  rule: ValueRule;
  path: string[];
  /** Elements read so far, each a byte. */
  count: number;
}

const BYTE_LITERAL = /^(?:0|[1-9]\d{0,2})$/;

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const endsLiteral = (c: number): boolean => isWs(c) || c === 0x2c || c === 0x5d || c === 0x7d;

/**
 * Rewrites a JSON document chunk by chunk: structure and unmasked tokens pass as they came (numbers keep
 * their digits, duplicate keys are each masked), a masked token is replaced once it is complete. The grammar
 * is checked as strictly as JSON.parse; a document that breaks it, nests deeper than MAX_DEPTH or has a
 * token over `maxTokenChars` fails the stream. Nothing is pushed before `holdChars` of output (or the end)
 * so a small document that fails is refused before a byte of it is sent; past that the caller can only cut
 * the response short, which an agent cannot mistake for a complete document.
 */
export class JsonMaskStream extends Transform {
  readonly #masker: ResponseMasker;
  readonly #holdChars: number;
  readonly #maxTokenChars: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #frames: Frame[] = [];
  readonly #path: string[] = [];
  #expect = Expect.Value;
  #next: ValueRule;
  #token = Token.None;
  #tok = "";
  #escape = false;
  #escaped = false;
  #held: string[] = [];
  #heldChars = 0;
  #out = "";
  #bytes = 0;
  #pushed = false;
  #capture: ByteCapture | undefined;
  #captureClosed = false;
  /** Values of name/value pairs and entries held until their container says what they are (json-stream-pairs.ts). */
  readonly #holds = new PairHolds();
  /** The container whose pair the string value about to be read names (a `name` member, an entry's first element). */
  #nameFor: Frame | undefined;
  /** The value about to start is held: its key (a `value` member's, or "1"). */
  #holdNext: string | undefined;
  /** Set when the first push is the whole document (it fitted in the hold): its length can be declared. */
  wholeBody = false;

  constructor(masker: ResponseMasker, opts: { holdChars: number; maxTokenChars: number }) {
    super();
    this.#masker = masker;
    this.#holdChars = opts.holdChars;
    this.#maxTokenChars = opts.maxTokenChars;
    this.#next = masker.detect ? { detect: masker.detect } : {};
  }

  /** Text sent before the document as it came (an anti-XSSI prefix, xssi.ts): called before any data. */
  lead(text: string): void {
    this.#out = text + this.#out;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#bytes += chunk.length;
      this.#scan(this.#decoder.decode(chunk, { stream: true }));
      this.#emit(false);
      done();
    } catch (err) {
      done(this.#failure(err));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      // An empty body is no document at all, and passes as it came (nothing to mask).
      if (this.#bytes === 0) return done();
      this.#scan(this.#decoder.decode());
      if (this.#token === Token.Literal) this.#endLiteral();
      if (this.#token !== Token.None || this.#expect !== Expect.End) throw syntax("unexpected end");
      this.#emit(true);
      done();
    } catch (err) {
      done(this.#failure(err));
    }
  }

  #failure(err: unknown): Error {
    if (err instanceof SyntaxError || err instanceof RegateError) return err;
    // TextDecoder's fatal error is a TypeError: the body is not UTF-8, so not JSON either.
    if (err instanceof TypeError) return syntax("not UTF-8");
    return err as Error;
  }

  #emit(final: boolean): void {
    if (this.#holds.holding) {
      this.#holds.check(this.#out.length, this.#maxTokenChars);
      return;
    }
    if (this.#capture !== undefined) {
      if (this.#out.length - this.#capture.start > this.#maxTokenChars) throw new RegateError("MASK_LINEAGE_UNKNOWN", "a JSON value is larger than regate masks");
      return;
    }
    if (this.#out !== "") {
      this.#held.push(this.#out);
      this.#heldChars += this.#out.length;
      this.#out = "";
    }
    if (this.#held.length === 0 || (!final && this.#heldChars < this.#holdChars)) return;
    if (final && !this.#pushed) this.wholeBody = true;
    this.#pushed = true;
    this.push(Buffer.from(this.#held.length === 1 ? this.#held[0]! : this.#held.join(""), "utf8"));
    this.#held = [];
    this.#heldChars = 0;
  }

  #scan(text: string): void {
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
      if (c === 0x22 || (c !== 0x2c && c !== 0x3a && c !== 0x5d && c !== 0x7d) || this.#capture !== undefined || this.#holds.holding) {
        this.#put(text.slice(copyFrom, i));
        copyFrom = i;
      }
      this.#structural(c);
      if (this.#captureClosed) {
        this.#put(text[i]!);
        copyFrom = i + 1;
        this.#endCapture();
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
      if (c !== 0x22) this.#nameFor = undefined;
      if (this.#holdNext !== undefined) this.#startHold(top!, this.#holdNext);
      if (c === 0x7b || c === 0x5b) {
        const rule = this.#next;
        this.#frames.push({ object: c === 0x7b, rule, index: 0, pathLen: this.#path.length, entry: c === 0x5b && top !== undefined && !top.object, pair: undefined });
        // Any container may be bytes (a Buffer's data, a Uint8Array): held until it is not, or closes.
        const reads = rule.whole === undefined && (rule.detect !== undefined || this.#masker.hasFieldRules);
        this.#capture = reads ? { start: this.#out.length, depth: this.#frames.length, rule, path: this.#masker.hasPointers ? [...this.#path] : [], count: 0 } : undefined;
        this.#expect = c === 0x7b ? Expect.KeyOrClose : Expect.ValueOrClose;
        return;
      }
      this.#token = c === 0x22 ? Token.String : Token.Literal;
      if (c === 0x22) this.#capture = undefined;
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
    // An entry's first element may name a field; its second is then held until the entry proves to have two.
    if (!array.entry || !this.#masker.hasNamedFields || array.rule.whole !== undefined) return;
    if (array.index === 1) this.#nameFor = array;
    else if (array.index === 2 && array.pair?.named !== undefined && this.#next.whole === undefined) this.#holdNext = "1";
  }

  /** The value about to start (everything before it in the output) is held as `frame`'s member or element `key`. */
  #startHold(frame: Frame, key: string): void {
    this.#holdNext = undefined;
    const path = this.#masker.hasPointers ? this.#path.slice(0, frame.pathLen) : [];
    frame.pair ??= newPair();
    this.#holds.start(frame, this.#out.length, this.#next.detect, key, !frame.object, path);
  }

  #close(): void {
    const closing = this.#frames.at(-1);
    if (closing?.pair !== undefined && closing.pair.held.length > 0) this.#out = this.#holds.resolve(closing, this.#out, this.#masker, this.#frames.length);
    if (this.#capture !== undefined && this.#capture.depth === this.#frames.length) this.#captureClosed = true;
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

  /** The held container is whole: masked as the bytes it may be (masker.ts reads them), then let go. */
  #endCapture(): void {
    const capture = this.#capture!;
    this.#capture = undefined;
    this.#captureClosed = false;
    const text = this.#out.slice(capture.start);
    const masked = this.#masker.maskValueText(text, capture.rule.detect, capture.depth - 1, capture.path);
    if (masked !== text) this.#out = this.#out.slice(0, capture.start) + masked;
  }

  #endKey(): void {
    const object = this.#frames.at(-1)!;
    const key = decodedString(this.#tok, this.#escaped);
    if (this.#capture !== undefined && key !== String(this.#capture.count)) this.#capture = undefined;
    this.#out += keyText(this.#masker, object, key, this.#tok);
    this.#holds.add(this.#tok);
    this.#next = childRule(this.#masker, this.#path, object, key, true);
    if (this.#masker.hasNamedFields && object.rule.whole === undefined) this.#pairMember(object, key);
    this.#token = Token.None;
    this.#tok = "";
    this.#expect = Expect.Colon;
  }

  /**
   * Member `key` of `object` under named field rules: a pair's name (its string value is read for the field it
   * names) or a pair's value (masked as the field when the name came first, held until the object closes if not).
   */
  #pairMember(object: Frame, key: string): void {
    const role = pairRole(key);
    if (role === PairRole.None) return;
    if (role === PairRole.Name) this.#nameFor = object;
    else if (this.#next.whole !== undefined) return;
    else if (object.pair?.named !== undefined) this.#next = withAction(this.#next, object.pair.named);
    else this.#holdNext = key;
  }

  #endString(): void {
    const named = this.#nameFor;
    if (named !== undefined && named === this.#frames.at(-1)) {
      this.#nameFor = undefined;
      const action = this.#masker.pairAction(decodedString(this.#tok, this.#escaped));
      if (action !== undefined) {
        named.pair ??= newPair();
        named.pair.named = named.pair.named === undefined ? action : mergeActions(named.pair.named, action);
      }
    }
    this.#out += stringText(this.#masker, this.#next, this.#tok, this.#escaped, this.#frames.length, this.#path);
    this.#holds.add(this.#tok);
    this.#valueDone();
  }

  #endLiteral(): void {
    if (this.#capture !== undefined) {
      if (BYTE_LITERAL.test(this.#tok) && Number(this.#tok) <= 255) this.#capture.count++;
      else this.#capture = undefined;
    }
    this.#out += literalText(this.#masker, this.#next, this.#tok);
    this.#holds.add(this.#tok);
    this.#valueDone();
  }
}
