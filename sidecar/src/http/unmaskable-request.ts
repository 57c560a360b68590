// Masked requests refused before they are forwarded: what the upstream would answer could not be masked, or
// its answer would tell the masked values by itself. Nothing has reached the upstream yet, so the agent may
// change the request and send it again.

import type { IncomingHttpHeaders } from "node:http";
import { isJsonMedia } from "./body.js";
import { entityTagPrecondition } from "./headers.js";
import type { ResponseMasker } from "./masker.js";
import { catalogError, type ErrorBody } from "./reply.js";

/** Methods whose entity-tag preconditions regate drops instead of refusing (headers.ts forwardHeaders). */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why a masked request is not forwarded, as the error the agent gets; undefined when it is. */
export function unmaskableRequest(masker: ResponseMasker, method: string, headers: IncomingHttpHeaders, responseTypes: ReadonlySet<string> | undefined): { status: number; body: ErrorBody } | undefined {
  if (masker.hasFieldRules && responseTypes !== undefined && ![...responseTypes].some((t) => isJsonMedia(t) || t === "text/event-stream")) {
    return catalogError("MASK_LINEAGE_UNKNOWN", "mask_failed", `field masks cannot be applied to what this route answers with (${[...responseTypes].join(", ")}); the request was not sent upstream`);
  }
  // A write cannot lose its precondition (it would overwrite what it meant to guard), and cannot keep it:
  // a 412 or not to a guessed tag confirms a guess of the masked values.
  const tagged = SAFE_METHODS.has(method) ? undefined : entityTagPrecondition(headers);
  if (tagged !== undefined) {
    return catalogError("FEATURE_UNSUPPORTED", "precondition_unsupported", `${tagged} with an entity tag cannot be sent where the response is masked (regate gives out no entity tags there, and a guessed one would test the masked values); send the request without it, or with "*"; the request was not sent upstream`);
  }
  return undefined;
}
