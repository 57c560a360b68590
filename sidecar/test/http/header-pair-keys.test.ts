// Pairs in response header values and the keys that name them, under rules for `name` and `customer_id`
// (values with no detectable shape: only the rule's name finds them). An absolute URL's first query parameter
// (`Location: https://host/p?name=…`) is a pair like any other, though `https:` reads as one too. A label key,
// `app.kubernetes.io/name=web`, is one name, read as the same key is in a JSON body (`{"app.kubernetes.io/name":
// "web"}` passes): its DNS prefix makes `name` the label's name, not a person's. `name=Alice`, `user.name=…`
// and a path's `/users/name=…` are masked still. A real upstream, a real gateway, what the agent read.

import type { OutgoingHttpHeaders } from "node:http";
import type { MaskRule } from "../../src/decision/types.js";
import { describeHeaderCases } from "./header-cases.js";

const NAME = "Ada Lovelace";
const ID = "C-4471-Q";
const RULES: MaskRule[] = [
  { field: "name", strategy: "redact" },
  { field: "customer_id", strategy: "redact" },
];
const q = encodeURIComponent(NAME);

const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  locationAbsolute: [{ location: `https://api.example.com/users?name=${q}` }, "Lovelace"],
  locationAbsoluteId: [{ location: `https://api.example.com/orders?customer_id=${ID}&page=2` }, ID],
  linkAbsolute: [{ link: `<https://api.example.com/p?customer_id=${ID}>; rel="next"` }, ID],
  customAbsolute: [{ "x-next": `http://api.example.com:8080/users?name=${q}` }, "Lovelace"],
  plainPairs: [{ "x-user": `name=${q}; region=eu` }, "Lovelace"],
  dottedPair: [{ "x-user": `user.name=${q}` }, "Lovelace"],
  pathPair: [{ "x-path": `/users/name=${q}` }, "Lovelace"],
  hostPathPair: [{ "x-path": `https://api.example.com/name=${q}` }, "Lovelace"],
  labelsThenPair: [{ "x-labels": `app.kubernetes.io/name=web, name=${q}` }, "Lovelace"],
};

const MUST_ALLOW: Record<string, OutgoingHttpHeaders> = {
  kubernetesName: { "x-labels": "app.kubernetes.io/name=web,app.kubernetes.io/instance=web-1,app.kubernetes.io/version=1.2.3" },
  labelSelector: { "x-selector": "app.kubernetes.io/name=web; helm.sh/chart=web-0.1.0" },
  labelEncoded: { "x-labels": "app.kubernetes.io%2Fname=web" },
  absoluteOtherParams: { location: "https://api.example.com/users?page=2&sort=created" },
};

describeHeaderCases({
  rules: RULES,
  leaky: LEAKY,
  mustAllow: MUST_ALLOW,
  leakyTitle: "a pair named by a field rule has its value masked, first in an absolute URL's query too",
  mustAllowTitle: "must-allow: a DNS-prefixed label key names the label, and passes byte for byte",
});
