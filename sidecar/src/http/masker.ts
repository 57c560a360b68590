// Response masking by field (name at any depth, or JSON pointer) and by value detectors.

import type { DetectorName, MaskRule, MaskStrategy } from "../decision/types.js";
import { RegateError } from "../errors.js";
import { applyStrategy, DETECTOR_NAMES, findMatches, isDetectorName, REDACTED, strongerStrategy } from "../mask/index.js";
import { looksLikeJson } from "./body.js";


/** Detectors to run over strings, each with its strategy. */
interface DetectSpec {
  names: DetectorName[];
  strategy: Map<DetectorName, MaskStrategy>;
}

/** What a field rule does to the value it names: replace it whole, or run detectors inside it. */
interface FieldAction {
  whole?: MaskStrategy;
  detect?: DetectSpec;
}

interface Pointer {
  tokens: string[];
  action: FieldAction;
}

/** Deeper nesting is refused (fail closed) rather than risking the stack. */
const MAX_DEPTH = 512;
/** JSON inside JSON strings (MCP tool results carry their payload as text) is masked this many levels deep. */
const MAX_EMBEDDED = 3;
const INDENT = /\n([ \t]+)\S/;

function addDetector(spec: DetectSpec | undefined, name: DetectorName, strategy: MaskStrategy): DetectSpec {
  const s: DetectSpec = spec ?? { names: [], strategy: new Map() };
  if (!s.strategy.has(name)) s.names.push(name);
  s.strategy.set(name, strongerStrategy(s.strategy.get(name), strategy));
  return s;
}

function mergeSpecs(a: DetectSpec | undefined, b: DetectSpec | undefined): DetectSpec | undefined {
  if (!a) return b;
  if (!b) return a;
  let out: DetectSpec | undefined;
  for (const spec of [a, b]) for (const n of spec.names) out = addDetector(out, n, spec.strategy.get(n)!);
  return out;
}

function addAction(action: FieldAction | undefined, rule: MaskRule, detectors: readonly DetectorName[]): FieldAction {
  const a = action ?? {};
  if (rule.detector === undefined) {
    a.whole = strongerStrategy(a.whole, rule.strategy);
  } else {
    for (const d of detectors) a.detect = addDetector(a.detect, d, rule.strategy);
  }
  return a;
}

function mergeActions(a: FieldAction | undefined, b: FieldAction | undefined): FieldAction | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: FieldAction = {};
  if (a.whole || b.whole) out.whole = a.whole && b.whole ? strongerStrategy(a.whole, b.whole) : (a.whole ?? b.whole)!;
  const detect = mergeSpecs(a.detect, b.detect);
  if (detect) out.detect = detect;
  return out;
}

const TILDE_ONE = /~1/g;
const TILDE_ZERO = /~0/g;
/** RFC 6901: "~1" is "/", "~0" is "~" (in that order). */
const unescapePointerToken = (t: string): string => t.replace(TILDE_ONE, "/").replace(TILDE_ZERO, "~");

/**
 * Masks response values according to a decision's mask rules. A rule with `field` masks that field's value
 * whole (every scalar inside it, when it is an object or array); with `field` and `detector`, it masks what
 * the detector finds inside the field; with only `detector`, every string (and number, and object key) is
 * scanned. A field is a name matched at any depth, or a JSON pointer when it starts with "/" ("*" matches
 * any key or index). Rules naming only a Postgres `column` do not apply to HTTP.
 */
export class ResponseMasker {
  readonly #names = new Map<string, FieldAction>();
  readonly #pointers: Pointer[] = [];
  readonly #detect: DetectSpec | undefined;
  readonly #key: Buffer | undefined;
  readonly #stack: string[] = [];
  #changes = 0;

  /** Field rules cannot be honoured on a body that is not JSON. */
  readonly hasFieldRules: boolean;

  private constructor(rules: readonly MaskRule[], key: Buffer | undefined) {
    this.#key = key;
    let detect: DetectSpec | undefined;
    for (const rule of rules) {
      // An unknown detector name masks with every detector: over-masking beats leaking.
      const detectors = rule.detector === undefined ? [] : isDetectorName(rule.detector) ? [rule.detector] : DETECTOR_NAMES;
      if (rule.field !== undefined && rule.field.startsWith("/")) {
        const tokens = rule.field.slice(1).split("/").map(unescapePointerToken);
        this.#pointers.push({ tokens, action: addAction(undefined, rule, detectors) });
      } else if (rule.field !== undefined) {
        this.#names.set(rule.field, addAction(this.#names.get(rule.field), rule, detectors));
      } else {
        for (const d of detectors) detect = addDetector(detect, d, rule.strategy);
      }
    }
    this.#detect = detect;
    this.hasFieldRules = this.#names.size > 0 || this.#pointers.length > 0;
  }

  /** Undefined when no rule applies to an HTTP response. */
  static from(rules: readonly MaskRule[], key?: Buffer): ResponseMasker | undefined {
    const relevant = rules.filter((r) => r.field !== undefined || r.detector !== undefined);
    return relevant.length === 0 ? undefined : new ResponseMasker(relevant, key);
  }

  /** Masks a JSON document. Throws SyntaxError when `text` is not JSON. Unchanged documents keep their bytes. */
  maskJsonText(text: string): string {
    const value: unknown = JSON.parse(text);
    const before = this.#changes;
    const masked = this.#walk(value, this.#detect, 0, 0);
    return this.#changes === before ? text : JSON.stringify(masked);
  }

  /** Masks detected values in plain text (detector rules only: fields cannot be found in text). */
  maskPlainText(text: string): string {
    return this.#maskDetected(text, this.#detect) ?? "";
  }

  /** An SSE event's data: JSON when it parses as JSON, text otherwise. */
  maskEventData(data: string): string {
    if (looksLikeJson(data)) {
      try {
        return this.maskJsonText(data);
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
    }
    return this.maskPlainText(data);
  }

  #walk(node: unknown, detect: DetectSpec | undefined, depth: number, embedded: number): unknown {
    if (depth > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
    if (typeof node === "string") return this.#string(node, detect, depth, embedded);
    if (typeof node === "number") {
      if (!detect) return node;
      // A card number sent as a JSON number is still a card number.
      const s = String(node);
      const masked = this.#maskDetected(s, detect);
      return masked === s ? node : masked;
    }
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = this.#child(String(i), node[i], detect, depth, embedded, false);
      return node;
    }
    const obj = node as Record<string, unknown>;
    let renamed: Map<string, unknown> | undefined;
    for (const key of Object.keys(obj)) {
      const value = this.#child(key, obj[key], detect, depth, embedded, true);
      // Object keys can carry values too (maps keyed by email): they are scanned like strings.
      const newKey = detect ? (this.#maskDetected(key, detect) ?? REDACTED) : key;
      if (newKey !== key && !renamed) {
        renamed = new Map();
        for (const k of Object.keys(obj)) {
          if (k === key) break;
          renamed.set(k, obj[k]);
        }
      }
      if (renamed) renamed.set(newKey, value);
      else obj[key] = value;
    }
    return renamed ? Object.fromEntries(renamed) : obj;
  }

  #child(key: string, value: unknown, detect: DetectSpec | undefined, depth: number, embedded: number, named: boolean): unknown {
    const usePointers = this.#pointers.length > 0 && embedded === 0;
    if (usePointers) this.#stack.push(key);
    try {
      const action = mergeActions(named ? this.#names.get(key) : undefined, usePointers ? this.#pointerAction() : undefined);
      if (action?.whole !== undefined) return this.#whole(value, action.whole, depth + 1);
      return this.#walk(value, mergeSpecs(detect, action?.detect), depth + 1, embedded);
    } finally {
      if (usePointers) this.#stack.pop();
    }
  }

  #pointerAction(): FieldAction | undefined {
    let action: FieldAction | undefined;
    const path = this.#stack;
    for (const p of this.#pointers) {
      if (p.tokens.length !== path.length) continue;
      let ok = true;
      for (let i = 0; i < path.length && ok; i++) ok = p.tokens[i] === "*" || p.tokens[i] === path[i];
      if (ok) action = mergeActions(action, p.action);
    }
    return action;
  }

  /** Replaces every scalar under `node` (structure kept); JSON null stays null, it reveals nothing. */
  #whole(node: unknown, strategy: MaskStrategy, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new RegateError("MASK_LINEAGE_UNKNOWN", "response is nested too deeply to mask");
    if (node === null || node === undefined) return node;
    if (Array.isArray(node)) return node.map((v) => this.#whole(v, strategy, depth + 1));
    if (typeof node === "object") {
      const obj = node as Record<string, unknown>;
      for (const k of Object.keys(obj)) obj[k] = this.#whole(obj[k], strategy, depth + 1);
      return obj;
    }
    this.#changes++;
    return applyStrategy(String(node), strategy, undefined, this.#key);
  }

  #string(s: string, detect: DetectSpec | undefined, depth: number, embedded: number): unknown {
    // JSON carried inside a string (MCP tool results put their payload in `content[].text`): field rules
    // and detectors apply inside it too. JSON pointers address the outer document only.
    if (embedded < MAX_EMBEDDED && (detect || this.#names.size > 0) && looksLikeJson(s)) {
      let inner: unknown;
      try {
        inner = JSON.parse(s);
      } catch {
        inner = undefined;
      }
      if (inner !== null && typeof inner === "object") {
        const before = this.#changes;
        const masked = this.#walk(inner, detect, depth + 1, embedded + 1);
        if (this.#changes === before) return s;
        const indent = INDENT.exec(s)?.[1];
        return JSON.stringify(masked, null, indent);
      }
    }
    return this.#maskDetected(s, detect);
  }

  /** Detected spans masked with their detector's strategy; null when a `null` strategy hit. */
  #maskDetected(s: string, detect: DetectSpec | undefined): string | null {
    if (!detect || s === "") return s;
    const matches = findMatches(s, detect.names);
    if (matches.length === 0) return s;
    this.#changes++;
    let out = "";
    let pos = 0;
    for (const m of matches) {
      const strategy = detect.strategy.get(m.detector) ?? "redact";
      // A null inside a string cannot exist: the whole value becomes null.
      if (strategy === "null") return null;
      out += s.slice(pos, m.start) + (applyStrategy(s.slice(m.start, m.end), strategy, { kind: m.detector }, this.#key) ?? "");
      pos = m.end;
    }
    return out + s.slice(pos);
  }
}
