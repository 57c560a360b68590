import { credentialOps } from "./credential-view.js";
import { applyMaskOps, type MaskOps } from "./log-mask.js";
import { withCopies } from "./mask-copies.js";
import type { DecisionEvent, DecisionMetrics } from "./sink.js";
import type { Decision, PolicyInput } from "./types.js";

/** The policy's log mask for one event: its operations, none (the bundle has no mask), or "failed" (log no input). */
export type PolicyMask = MaskOps | "failed" | undefined;

/** The input's JSON: the text itself, or how to make it when it is needed (a reuse whose input may be masked). */
export type InputJson = string | (() => string) | undefined;

/** What a logged view is worked out from: the decision's own input and result, as decided, and the masks to apply. */
export interface LogViewParts {
  input: PolicyInput;
  inputJson: InputJson;
  result: unknown;
  /** `result` serialised, when the pipeline has it (a reused decision's); dropped when a mask changes the result. */
  resultJson: string | undefined;
  mask: PolicyMask;
  /** regate's own credential mask when the pipeline has already worked it out (null: nothing to hide). */
  own?: MaskOps | null;
}

/**
 * A decision's event whose logged view (regate's credential mask, then the policy's system.log.mask, applied to
 * a copy of the input) is worked out when a sink first reads `input`, `input_json`, `result`, `result_json`,
 * `erased` or `masked`. The decision log reads them when it writes its batch, after the statement or request
 * was forwarded; a sink that reads them in record() (export, recording) gets the same view, made then. Every
 * operation is known when the event is made (the mask's evaluation, when it is needed, is not deferred), and
 * the decided input is never changed once decided (input-json.ts keys its parts by identity on the same
 * promise), so the view is the one the decision would have had if worked out at once.
 */
export class LoggedEvent implements DecisionEvent {
  decision: Decision;
  readonly path: string;
  readonly metrics: DecisionMetrics;
  readonly timestamp: string;
  readonly kind: PolicyInput["kind"];
  readonly input_chars: number;
  #parts: LogViewParts | undefined;
  #input!: PolicyInput;
  #inputJson: string | undefined;
  #result: unknown;
  #resultJson: string | undefined;
  #erased: string[] = [];
  #masked: string[] = [];

  constructor(decision: Decision, path: string, metrics: DecisionMetrics, timestamp: string, parts: LogViewParts, inputChars: number) {
    this.decision = decision;
    this.path = path;
    this.metrics = metrics;
    this.timestamp = timestamp;
    this.kind = parts.input.kind;
    this.input_chars = inputChars;
    this.#parts = parts;
  }

  get input(): PolicyInput {
    if (this.#parts) this.#view(this.#parts);
    return this.#input;
  }
  get input_json(): string | undefined {
    if (this.#parts) this.#view(this.#parts);
    return this.#inputJson;
  }
  get result(): unknown {
    if (this.#parts) this.#view(this.#parts);
    return this.#result;
  }
  get result_json(): string | undefined {
    if (this.#parts) this.#view(this.#parts);
    return this.#resultJson;
  }
  get erased(): string[] {
    if (this.#parts) this.#view(this.#parts);
    return this.#erased;
  }
  get masked(): string[] {
    if (this.#parts) this.#view(this.#parts);
    return this.#masked;
  }

  #view(p: LogViewParts): void {
    this.#parts = undefined;
    let input = p.input;
    let json = p.inputJson;
    this.#result = p.result;
    this.#resultJson = p.resultJson;
    // regate's own mask first (the policy's operations, found on the same input, may remove array members);
    // the input's JSON, which still holds the credentials, is not logged.
    const own = p.own === undefined ? credentialOps(input) : (p.own ?? undefined);
    if (own) {
      const doc: Record<string, unknown> = { input };
      this.#masked = applyMaskOps(doc, own).masked;
      input = doc["input"] as PolicyInput;
      json = undefined;
    }
    const mask = p.mask;
    if (mask === "failed") {
      // A failing mask policy must not leak what it was meant to hide: no input at all.
      this.#input = {} as PolicyInput;
      this.#inputJson = "{}";
      this.#erased = ["/input"];
      return;
    }
    if (mask === undefined || (mask.erase.length === 0 && mask.upsert.length === 0)) {
      this.#input = input;
      this.#inputJson = typeof json === "function" ? json() : json;
      return;
    }
    const doc: Record<string, unknown> = { input, result: p.result };
    // What the mask hides of a value is hidden in every copy the input holds of it (mask-copies.ts).
    const { erased, masked } = applyMaskOps(doc, withCopies(mask));
    this.#input = doc["input"] as PolicyInput;
    this.#result = doc["result"];
    // A result the mask changed is serialised from the changed value.
    if (this.#result !== p.result) this.#resultJson = undefined;
    this.#erased = erased;
    this.#masked = this.#masked.length === 0 ? masked : [...this.#masked, ...masked];
  }
}
