// What a response mask rule does where it applies: the pieces the in-place and the streaming JSON maskers share.

import type { DetectorName, MaskRule, MaskStrategy } from "../decision/types.js";
import { strongerStrategy } from "../mask/index.js";

/** Detectors to run over strings, each with its strategy. */
export interface DetectSpec {
  names: DetectorName[];
  strategy: Map<DetectorName, MaskStrategy>;
}

/** What a field rule does to the value it names: replace it whole, or run detectors inside it. */
export interface FieldAction {
  whole?: MaskStrategy;
  detect?: DetectSpec;
}

/** Deeper nesting is refused (fail closed) rather than risking the stack or passing what was not inspected. */
export const MAX_DEPTH = 512;

export function addDetector(spec: DetectSpec | undefined, name: DetectorName, strategy: MaskStrategy): DetectSpec {
  const s: DetectSpec = spec ?? { names: [], strategy: new Map() };
  if (!s.strategy.has(name)) s.names.push(name);
  s.strategy.set(name, strongerStrategy(s.strategy.get(name), strategy));
  return s;
}

export function mergeSpecs(a: DetectSpec | undefined, b: DetectSpec | undefined): DetectSpec | undefined {
  if (!a) return b;
  if (!b) return a;
  let out: DetectSpec | undefined;
  for (const spec of [a, b]) for (const n of spec.names) out = addDetector(out, n, spec.strategy.get(n)!);
  return out;
}

export function addAction(action: FieldAction | undefined, rule: MaskRule, detectors: readonly DetectorName[]): FieldAction {
  const a = action ?? {};
  if (rule.detector === undefined) {
    a.whole = strongerStrategy(a.whole, rule.strategy);
  } else {
    for (const d of detectors) a.detect = addDetector(a.detect, d, rule.strategy);
  }
  return a;
}

export function mergeActions(a: FieldAction | undefined, b: FieldAction | undefined): FieldAction | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: FieldAction = {};
  if (a.whole || b.whole) out.whole = a.whole && b.whole ? strongerStrategy(a.whole, b.whole) : (a.whole ?? b.whole)!;
  const detect = mergeSpecs(a.detect, b.detect);
  if (detect) out.detect = detect;
  return out;
}
