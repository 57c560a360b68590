// The credential cut into JSON pieces an agent joins back: the strings and numbers of a document in order
// (tokens), its values alone in order, the values at one path across documents and under one key name at one
// depth (leak-paths.ts). The JSON reader (leak-json.ts) tells where pieces start and end; the first view
// (everything, as a client reads it) is fed up to each piece's end, and each join either takes its state
// there (a piece is contiguous in it, so what it read is what the join would read) or, while the join's own
// text so far could run on into the piece, reads the piece itself byte by byte until that is settled (the
// joins in order keep what they carry into a piece as a few numbers until its first byte decides: leak-carry.ts).

import { PieceJoin } from "./leak-carry.js";
import * as json from "./leak-json.js";
import type { PieceSink } from "./leak-json.js";
import type { Needles } from "./leak-match.js";
import { PathJoin } from "./leak-paths.js";
import type { ViewLayer, ViewSink } from "./leak-view.js";

/**
 * A form cut across JSON values is held back for once this much of it is seen (bytes of a text form, digits
 * of a hex one). Shorter tails of values go out at once, or a stream would stall at every value whose last
 * byte could start a form until its path came round again; if the form then completes, the rest of it is
 * overwritten, so fewer than this many of its bytes can reach the agent.
 */
export const JOINED_TEXT = 4;
export const JOINED_HEX = 8;

const EMPTY = new Uint8Array(0);

// Module-local copies of what hot code reads: V8 reads an imported binding from memory on every use.
const { JsonPieces, KEY, VALUE } = json;

export class JsonJoins implements PieceSink {
  readonly #main: ViewLayer;
  /** Every string and number in order, and the values alone in order. */
  readonly #tokens: PieceJoin;
  readonly #values: PieceJoin;
  readonly #paths: PathJoin;
  readonly #leaves: PathJoin;
  readonly #json = new JsonPieces();
  /** The piece under way, and which joins read it byte by byte (see pieceStart). */
  #kind = 0;
  #readTokens = false;
  #readValues = false;
  /**
   * The range `read` reads (stream offset `#base` + index), how far the first view has read it and where the
   * piece under way starts in it.
   */
  #buf: Uint8Array = EMPTY;
  #base = 0;
  #mainAt = 0;
  #pieceAt = 0;

  /** `main`: the first view, which this feeds over the JSON it reads; `scrub` overwrites without counting a find. */
  constructor(needles: Needles, sink: ViewSink, main: ViewLayer, scrub: (start: number, end: number) => void) {
    this.#main = main;
    this.#tokens = new PieceJoin(needles, sink, JOINED_TEXT, JOINED_HEX);
    this.#values = new PieceJoin(needles, sink, JOINED_TEXT, JOINED_HEX);
    this.#paths = new PathJoin(needles, sink, scrub, JOINED_TEXT, JOINED_HEX);
    this.#leaves = new PathJoin(needles, sink, scrub, JOINED_TEXT, JOINED_HEX);
  }

  /** Reads buf[i, end) as JSON (stream offset `base` + index): the first view reads it all, the joins each piece. */
  read(buf: Uint8Array, i: number, end: number, base: number): void {
    this.#buf = buf;
    this.#base = base;
    this.#mainAt = this.#pieceAt = i;
    this.#json.read(buf, i, end, this);
    if (this.#json.inPiece && this.#reading()) this.#readPiece(buf, this.#pieceAt, end, base);
    this.#main.feedRun(buf, this.#mainAt, end, base);
    this.#buf = EMPTY;
  }

  /** The line break that joins the data lines of an event (the first view has read what came before). */
  lineBreak(): void {
    if (this.#json.inPiece && this.#json.lineBreak()) this.#pieceEnd();
  }

  /** An event of a stream ended: its data was one document, the next starts afresh. */
  eventEnd(): void {
    if (this.#json.inPiece) this.#pieceEnd();
    this.#json.reset();
  }

  /** No more input; the first view has ended. */
  end(): void {
    if (this.#json.inPiece) this.#pieceEnd();
    this.#tokens.end();
    this.#values.end();
  }

  /** The joins are not used again (see ViewLayer.release). */
  release(): void {
    this.#tokens.release();
    this.#values.release();
    this.#paths.release();
    this.#leaves.release();
  }

  /** The first stream offset a join holds back (Infinity when none). */
  holdFrom(): number {
    return Math.min(this.#paths.holdFrom(), this.#leaves.holdFrom(), this.#tokens.holdFrom(), this.#values.holdFrom());
  }

  /** Candidates that started before `before` and are about to go out unfinished: overwritten now. */
  scrubBefore(before: number): void {
    this.#tokens.scrubCandidates(before);
    this.#values.scrubCandidates(before);
    this.#paths.scrubBefore(before);
    this.#leaves.scrubBefore(before);
  }

  // For the JSON reader (PieceSink).

  /**
   * A piece starts. A join whose text so far could run on into it reads it byte by byte until that is
   * settled; every other join takes the first view's state at the piece's end.
   */
  pieceStart(at: number, kind: number, path: number, leaf: number): void {
    this.#pieceAt = at;
    this.#kind = kind;
    this.#readTokens = this.#tokens.holding;
    this.#readValues = kind !== KEY && this.#values.holding;
    if (kind === VALUE) {
      this.#paths.start(path);
      this.#leaves.start(leaf);
    }
  }

  /** A piece ends: the first view reads up to it, and each join that did not read it takes its state there. */
  pieceEnd(at: number, quote: boolean): void {
    const main = this.#main;
    if (this.#reading()) this.#readPiece(this.#buf, this.#pieceAt, at, this.#base);
    main.feedRun(this.#buf, this.#mainAt, at, this.#base);
    this.#mainAt = at;
    // A "0" that ends a string is followed by its closing quote: a digit, not the start of "0x".
    if (quote) main.settleZero();
    this.#pieceEnd();
  }

  /** Some join reads the piece under way byte by byte. (A method: V8 does not inline a private getter.) */
  #reading(): boolean {
    return this.#readTokens || this.#readValues || this.#paths.reading || this.#leaves.reading;
  }

  #readPiece(buf: Uint8Array, i: number, k: number, base: number): void {
    if (this.#readTokens) this.#readTokens = this.#tokens.read(buf, i, k, base);
    if (this.#readValues) this.#readValues = this.#values.read(buf, i, k, base);
    this.#paths.read(buf, i, k, base);
    this.#leaves.read(buf, i, k, base);
  }

  #pieceEnd(): void {
    const main = this.#main;
    const clean = main.clean;
    if (!this.#readTokens) this.#tokens.takeOver(main, clean);
    if (this.#kind !== KEY && !this.#readValues) this.#values.takeOver(main, clean);
    this.#paths.end(main);
    this.#leaves.end(main);
    this.#readTokens = this.#readValues = false;
  }
}
