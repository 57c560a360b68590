// Response headers and dotted names, read as field-names.ts reads a dotted JSON key (a path written flat): a
// name's last parts name the field, what follows a dot is a member of what comes before it. Under rules for
// `email`, `ssn` and `full_name`, `X-User.Email`, `Location: /x?user.email=…` and `customer.full.name=…` are
// masked; `email.verified=true`, `X-Email.Verified`, `ssn.last4` and `full_name.length` pass byte for byte,
// as `{"email.verified": true}` does in a body. Values here have no detectable shape: only the name finds
// them. A real upstream, a real gateway, what the agent read.

import type { OutgoingHttpHeaders } from "node:http";
import type { MaskRule } from "../../src/decision/types.js";
import { describeHeaderCases } from "./header-cases.js";

const MAIL = "ada-at-home";
const NAME = "Ada Lovelace";
const TAXID = "TX-4471-Q";
const RULES: MaskRule[] = [
  { field: "email", strategy: "redact" },
  { field: "ssn", strategy: "redact" },
  { field: "full_name", strategy: "redact" },
];

/** Each case: the headers the upstream sends, and the secret that must not reach the agent. */
const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  dottedHeader: [{ "x-user.email": MAIL }, MAIL],
  dottedHeaderDeeper: [{ "x-customer.full.name": NAME }, NAME],
  queryDotted: [{ location: `/x?user.email=${MAIL}&page=2` }, MAIL],
  queryDottedRuleWords: [{ location: `/x?customer.full_name=${encodeURIComponent(NAME)}` }, "Lovelace"],
  customPairsDotted: [{ "x-attrs": `customer.ssn=${TAXID}; region=eu` }, TAXID],
  linkDotted: [{ link: `</p?person.email=${MAIL}>; rel="next"` }, MAIL],
};

const MUST_ALLOW: Record<string, OutgoingHttpHeaders> = {
  dottedMembers: { "x-email.verified": "true", "x-ssn.last4": "6789", "x-full_name.length": "12" },
  queryMembers: { location: "/users/7?email.verified=true&ssn.last4=6789&full_name.length=12" },
  attrs: { "x-attrs": "email.verified=true; ssn.present=false", link: '</p?email.domain=example&page=2>; rel="next"' },
  kubernetesLabels: { "x-labels": "app.kubernetes.io/version=1.2.3,app.kubernetes.io/component=api" },
};

describeHeaderCases({
  rules: RULES,
  leaky: LEAKY,
  mustAllow: MUST_ALLOW,
  leakyTitle: "a dotted name whose last parts name a field rule has its value masked",
  mustAllowTitle: "must-allow: a dotted name that goes on past the field's name names a member of it, and passes byte for byte",
});
