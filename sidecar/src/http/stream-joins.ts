// Detectors over the text a client joins from a stream's events. A model streams its answer as many small
// deltas (`"607-59"`, then `"-5353"`); masked one event at a time, a value cut across them is never seen whole,
// and reaches the agent whole once it appends them. Here the delta strings at one path (stream-leaves.ts) are
// read as one text across events: a match spanning events is masked part by part (its replacement in the
// first part still unsent, the other parts emptied), so every event stays a valid document in its framing.
// An event whose text ends in what may be the start of a match (detector-tails.ts) is held back until the
// next event tells, the end of the stream, or a bound: then what may be a partial match is masked as one.

import { REDACTED } from "../mask/index.js";
import type { DetectedSpan } from "./detected-text.js";
import { spansInViews } from "./detected-text.js";
import { openMatchStartInViews } from "./detector-tails.js";
import { mergeSpecs, type DetectSpec } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";
import { applyLeafEdits, merged, type Edit } from "./stream-join-edits.js";
import { deltaLeaves, TEXT_PATH, type Leaf } from "./stream-leaves.js";

/** What a stream's joins detect with. */
export interface JoinDetect {
  /** The detectors for the delta strings at `keys` (array indices as numbers; [] for plain-text data); undefined for none. */
  specFor(keys: readonly (string | number)[]): DetectSpec | undefined;
  spans(text: string, spec: DetectSpec): DetectedSpan[];
}

/**
 * The masker's detectors over joined text: those for every string, and those a field rule runs inside the
 * field a delta is in (`{"field": "content", "detector": "ssn"}`, or a pointer to it or above it, ending in
 * `*` or an index too: `/choices/0`, `/delta/` then `*`). Undefined when it has neither (the stream is
 * masked as before). A delta masked whole by a field rule is masked so in each event: no join needed.
 */
export function streamJoinsFor(masker: ResponseMasker): JoinDetect | undefined {
  const global = masker.detect;
  // Streams under field rules without detectors are masked as before, with no cost added.
  if (!global && !masker.hasFieldDetectors) return undefined;
  return {
    specFor(keys) {
      if (!masker.hasFieldRules) return global;
      let spec = global;
      const path: string[] = [];
      for (const k of keys) {
        const key = String(k);
        if (masker.hasPointers) path.push(masker.foldKey(key));
        const action = masker.actionAt(key, typeof k === "string", path);
        if (action?.whole !== undefined) return undefined;
        spec = mergeSpecs(spec, action?.detect);
      }
      return spec;
    },
    spans(text, spec) {
      // As the masker finds them in one text (its views too), each replaced as the masker replaces the value
      // it spells (a keyed hash, a partial), or redacted when that value alone reads as nothing.
      const found = spansInViews(text, spec, undefined);
      const spans: DetectedSpan[] = found.spans.map(({ start, end }) => {
        const value = text.slice(start, end);
        const masked = masker.maskDetectedText(value, spec);
        return { start, end, replacement: masked === value ? REDACTED : masked };
      });
      if (found.whole !== undefined) spans.push({ start: 0, end: text.length, replacement: found.whole });
      return spans;
    },
  };
}

/** Held events never exceed this many characters of data, nor wait longer than this for the next one. */
export const MAX_HELD_CHARS = 64 * 1024;
export const MAX_HOLD_MS = 1000;

/** Of the text already sent at a path, the most kept to find a match that began in it and goes on. */
const SENT_CONTEXT = 128;

/**
 * What of the sent text a match that goes on may have begun in: its last word (and the character before it,
 * which the detectors' look-behinds read). A match with a space in it (a card in groups, a PEM block) was held
 * while under way, so it never began in text already sent; one without (an email's local part, a partial
 * `AK` or `sk`) may have.
 */
function sentContext(sent: string): string {
  let i = sent.length;
  while (i > 0 && sent.length - i < SENT_CONTEXT && !/\s/.test(sent[i - 1]!)) i--;
  return sent.slice(Math.max(0, i - 1));
}

/** The first of `parts` (in text order) that ends after `offset`: a span's parts found without a walk from the start. */
function firstPartEndingAfter(parts: readonly { at: number; leaf: Leaf }[], offset: number): number {
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = parts[mid]!;
    if (p.at + p.leaf.value.length > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A private key block masked at the bound and still open in `sent` (its BEGIN line, no END after it) whose
 * BEGIN line the kept context would lose: that line, kept ahead of the context, so the rest of the block is
 * still held and masked until its END (the detector reads a block only whole).
 */
function openKeyHeader(sent: string, spec: DetectSpec): string {
  if (!spec.names.includes("secret")) return "";
  const begin = sent.lastIndexOf("-----BEGIN");
  if (begin < 0 || begin >= sent.length - SENT_CONTEXT || sent.includes("-----END", begin)) return "";
  const header = /^-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----/.exec(sent.slice(begin, begin + 48));
  return header ? `${header[0]}\n` : "";
}

/** How an event's data is read for joins. */
export type JoinKind = "json" | "text" | "none";

interface Held<T> {
  item: T;
  data: string;
  leaves: Leaf[];
}

/**
 * More distinct paths than a stream has deltas at: the cache of their detectors starts over, and the text sent
 * at the path written longest ago is forgotten (a stream whose part or tool-call index keeps growing would
 * otherwise keep one entry per event).
 */
const MAX_CACHED_PATHS = 1024;

/** An event let out, its data with the joins' masking applied (unchanged when none applied). */
export interface Released<T> {
  item: T;
  data: string;
}

export class StreamJoins<T> {
  readonly #detect: JoinDetect;
  readonly #onExpire: () => void;
  readonly #maxHeldChars: number;
  readonly #maxHoldMs: number;
  readonly #whole: boolean;
  #held: Held<T>[] = [];
  #heldChars = 0;
  /** Per path, the end of the text already sent there (as it came, before masking). */
  #sent = new Map<string, string>();
  /** Paths whose sent text ends inside a span already masked: the rest of that span is emptied, not replaced again. */
  #continues = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** Each path's detectors (null: none), as specFor gave them. */
  #specs = new Map<string, DetectSpec | null>();

  /**
   * `onExpire` is called when held events have waited `maxHoldMs`: the owner then calls expire(). `whole`: the
   * body is already all here (no clock, no size bound), so add() only collects and end() reads the text once;
   * settling per event would rescan all that is held each time, quadratic while a digit run keeps it held.
   */
  constructor(detect: JoinDetect, onExpire: () => void, opts: { maxHeldChars?: number; maxHoldMs?: number; whole?: boolean } = {}) {
    this.#detect = detect;
    this.#onExpire = onExpire;
    this.#maxHeldChars = opts.maxHeldChars ?? MAX_HELD_CHARS;
    this.#maxHoldMs = opts.maxHoldMs ?? MAX_HOLD_MS;
    this.#whole = opts.whole ?? false;
  }

  get holding(): boolean {
    return this.#held.length > 0;
  }

  /** Adds the next event; returns those that may go out now, in order. */
  add(item: T, data: string, kind: JoinKind): Released<T>[] {
    const found = kind === "json" ? deltaLeaves(data) : kind === "text" && data !== "" ? [{ path: TEXT_PATH, keys: [], start: 0, end: data.length, value: data }] : [];
    const leaves = found.length === 0 ? found : found.filter((l) => this.#spec(l) !== undefined);
    if (leaves.length === 0 && this.#held.length === 0) return [{ item, data }];
    this.#held.push({ item, data, leaves });
    this.#heldChars += data.length;
    if (this.#whole) return [];
    return this.#settle(this.#heldChars > this.#maxHeldChars ? "expire" : "more");
  }

  /** The stream ended: every held event goes out, what it ends in read as ended. */
  end(): Released<T>[] {
    return this.#settle("end");
  }

  /** The hold bound passed: every held event goes out, a match that may be under way masked as one. */
  expire(): Released<T>[] {
    return this.#settle("expire");
  }

  #spec(leaf: Leaf): DetectSpec | undefined {
    let spec = this.#specs.get(leaf.path);
    if (spec === undefined) {
      if (this.#specs.size >= MAX_CACHED_PATHS) this.#specs.clear();
      spec = this.#detect.specFor(leaf.keys) ?? null;
      this.#specs.set(leaf.path, spec);
    }
    return spec ?? undefined;
  }

  /** How many paths' sent text, and how many paths inside a masked span, are kept: bounded for any stream. */
  get keptPaths(): { sent: number; continues: number } {
    return { sent: this.#sent.size, continues: this.#continues.size };
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #settle(mode: "more" | "end" | "expire"): Released<T>[] {
    const held = this.#held;
    // Per path: its parts in held events, the text they make after what was sent, and where it may still go on.
    const texts = new Map<string, { spec: DetectSpec; sent: string; parts: { event: number; leaf: Leaf; at: number }[]; text: string; open: number }>();
    for (let e = 0; e < held.length; e++) {
      for (const leaf of held[e]!.leaves) {
        let t = texts.get(leaf.path);
        if (!t) {
          const sent = this.#sent.get(leaf.path) ?? "";
          t = { spec: this.#spec(leaf)!, sent, parts: [], text: sent, open: 0 };
          texts.set(leaf.path, t);
        }
        t.parts.push({ event: e, leaf, at: t.text.length });
        t.text += leaf.value;
      }
    }
    let release = held.length;
    for (const t of texts.values()) {
      t.open = mode === "end" ? t.text.length : openMatchStartInViews(t.text, t.spec.names);
      if (mode !== "more" || t.open >= t.text.length) continue;
      // The first held event with a part at or after the open start waits, and every event after it.
      const part = t.parts.find((p) => p.at + p.leaf.value.length > t.open) ?? t.parts[0]!;
      release = Math.min(release, part.event);
    }
    const edits = new Map<Leaf, Edit[]>();
    for (const [path, t] of texts) {
      // Nothing of this path goes out now: what was sent, and whether it ends inside a masked span, stays as it was.
      if (t.parts[0]!.event >= release) continue;
      // Where the text released now ends: after the last part of an event let out.
      let releasedEnd = t.sent.length;
      for (const p of t.parts) if (p.event < release) releasedEnd = p.at + p.leaf.value.length;
      const spans = merged(this.#detect.spans(t.text, t.spec));
      // What may be a match under way when the bound passed is masked as one (and may go on in the next event).
      const bound = mode === "expire" && t.open < t.text.length ? { start: Math.max(t.open, t.sent.length), end: t.text.length, replacement: REDACTED } : undefined;
      if (bound) spans.push(bound);
      const continued = this.#continues.has(path);
      let continues = false;
      for (const s of spans) {
        if (s.end <= t.sent.length) continue;
        // A span that began in sent text already masked there has shown its replacement.
        const shownBefore = continued && s.start < t.sent.length;
        let first = !shownBefore;
        let edited = false;
        for (let k = firstPartEndingAfter(t.parts, s.start); k < t.parts.length; k++) {
          const p = t.parts[k]!;
          if (p.event >= release || p.at >= s.end) break;
          const a = Math.max(s.start, p.at);
          const b = Math.min(s.end, p.at + p.leaf.value.length);
          if (a >= b) continue;
          const list = edits.get(p.leaf) ?? [];
          list.push([a - p.at, b - p.at, s.replacement === null ? null : first ? s.replacement : ""]);
          edits.set(p.leaf, list);
          first = false;
          edited = true;
        }
        if (s.start < releasedEnd && (s.end > releasedEnd || s === bound) && (edited || shownBefore)) continues = true;
      }
      if (continues) this.#continues.add(path);
      else this.#continues.delete(path);
    }
    const out: Released<T>[] = [];
    for (let e = 0; e < release; e++) {
      const h = held[e]!;
      out.push({ item: h.item, data: applyLeafEdits(h, edits) });
      this.#heldChars -= h.data.length;
    }
    for (const [path, t] of texts) {
      if (t.parts[0]!.event >= release) continue;
      let sent = t.sent;
      for (const p of t.parts) if (p.event < release) sent += p.leaf.value;
      // Inside a masked span the rest of it is still to be found: its start, spaces and all, is kept.
      const context = this.#continues.has(path) ? openKeyHeader(sent, t.spec) + sent.slice(-SENT_CONTEXT) : sentContext(sent);
      // Written again, a path becomes the newest: the one forgotten past the bound is the one written longest ago.
      this.#sent.delete(path);
      this.#sent.set(path, context);
    }
    while (this.#sent.size > MAX_CACHED_PATHS) {
      const oldest = this.#sent.keys().next().value!;
      this.#sent.delete(oldest);
      this.#continues.delete(oldest);
    }
    this.#held = release === held.length ? [] : held.slice(release);
    if (this.#held.length === 0) this.stop();
    else if (this.#timer === undefined || release > 0) {
      // The bound counts from the oldest event still held.
      this.stop();
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#onExpire();
      }, this.#maxHoldMs);
    }
    return out;
  }
}
