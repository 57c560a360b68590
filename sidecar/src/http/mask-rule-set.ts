// A decision's mask rules as the response masker looks them up: field names, JSON pointers, detectors.

import type { MaskRule } from "../decision/types.js";
import { DETECTOR_NAMES, isDetectorName } from "../mask/index.js";
import { addAction, addDetector, type DetectSpec, type FieldAction } from "./mask-actions.js";

export interface Pointer {
  tokens: string[];
  action: FieldAction;
}

/** A field rule as a response header sees it: the name it gives (a pointer's last token) and its action. */
export interface NamedFieldRule {
  name: string;
  action: FieldAction;
}

export interface FieldRuleSet {
  /** Folded field name -> action, matched at any depth. */
  names: Map<string, FieldAction>;
  pointers: Pointer[];
  namedRules: NamedFieldRule[];
  /** Detectors that scan every value. */
  detect: DetectSpec | undefined;
}

const TILDE_ONE = /~1/g;
const TILDE_ZERO = /~0/g;
/** RFC 6901: "~1" is "/", "~0" is "~" (in that order). */
const unescapePointerToken = (t: string): string => t.replace(TILDE_ONE, "/").replace(TILDE_ZERO, "~");

/** `fold` is how keys will be compared (case folded unless the masker is case-sensitive). */
export function compileFieldRules(rules: readonly MaskRule[], fold: (name: string) => string): FieldRuleSet {
  const out: FieldRuleSet = { names: new Map(), pointers: [], namedRules: [], detect: undefined };
  for (const rule of rules) {
    // An unknown detector name masks with every detector: over-masking beats leaking.
    const detectors = rule.detector === undefined ? [] : isDetectorName(rule.detector) ? [rule.detector] : DETECTOR_NAMES;
    if (rule.field !== undefined && rule.field.startsWith("/")) {
      const raw = rule.field.slice(1).split("/").map(unescapePointerToken);
      const action = addAction(undefined, rule, detectors);
      out.pointers.push({ tokens: raw.map(fold), action });
      // Outside a JSON document there is no path to follow: a header sees the pointer's last name.
      const last = raw.at(-1) ?? "";
      if (last !== "*" && last !== "" && !/^\d+$/.test(last)) out.namedRules.push({ name: last, action });
    } else if (rule.field !== undefined) {
      const name = fold(rule.field);
      out.names.set(name, addAction(out.names.get(name), rule, detectors));
      out.namedRules.push({ name: rule.field, action: addAction(undefined, rule, detectors) });
    } else {
      for (const d of detectors) out.detect = addDetector(out.detect, d, rule.strategy);
    }
  }
  return out;
}
