// Values carried in base64 inside a response header: a login answered with `Authorization: Bearer <jwt>`, an
// `X-Id-Token`, an OpenID redirect's `Location: …#id_token=<jwt>`. The token's claims name the user (email,
// phone); a reader decodes them in one call, as it does a JWT in a body, where the masks read the decoded
// text (base64-runs.ts). A header gets the same reading, with the header's own detectors (mask-headers.ts).

import { RegateError } from "../errors.js";
import { REDACTED } from "../mask/index.js";
import type { DetectSpec } from "./mask-actions.js";
import type { ResponseMasker } from "./masker.js";

/**
 * `value` masked as a JSON string holding it would be, under `detect`: each base64 run decoded, masked by
 * detectors and, when it decodes to a JSON document, by field rules, then encoded back the way it came.
 * A value the masks null, or that holds values encoded deeper than regate masks, is redacted.
 */
export function maskHeaderBase64(value: string, masker: ResponseMasker, detect: DetectSpec | undefined): string {
  if (value.length < 16) return value;
  const quoted = JSON.stringify(value);
  let masked: string;
  try {
    masked = masker.maskStringToken(quoted, detect, 0, []);
  } catch (err) {
    // Encoded deeper than regate masks: a header cannot be refused alone, so it is redacted whole.
    if (err instanceof RegateError) return REDACTED;
    throw err;
  }
  if (masked === quoted) return value;
  const back: unknown = JSON.parse(masked);
  return typeof back === "string" ? back : REDACTED;
}
