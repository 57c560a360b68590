// Response headers under field rules match names by spelling, as JSON keys do (http/field-names.ts): a rule
// for `full_name` masks `X-Fullname` as well as `X-Full-Name`, a rule for `accountnumber` masks
// `X-Account-Number`, and the same holds for `name=value` pairs in header values (a Location's query, a
// custom header's parameters). Must-allow: headers whose names merely contain a word, or a longer word, pass
// byte for byte (`ssn` is not `session`, `accountnumber` is not `account-numbers`). Values here have no
// detectable shape, so only the field rule can find them. A real upstream, a real gateway, what the agent read.

import type { OutgoingHttpHeaders } from "node:http";
import type { MaskRule } from "../../src/decision/types.js";
import { describeHeaderCases } from "./header-cases.js";

const NAME = "Ada Lovelace";
const ACCOUNT = "ACCT-77120-Z";
const MEMBER = "MBR-2291-Q";
const RULES: MaskRule[] = [
  { field: "ssn", strategy: "redact" },
  { field: "full_name", strategy: "redact" },
  { field: "accountnumber", strategy: "redact" },
  { field: "MemberCode", strategy: "redact" },
];

/** Each case: the headers the upstream sends, and the secret that must not reach the agent. */
const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  joinedName: [{ "x-fullname": NAME }, NAME],
  joinedInLonger: [{ "x-customer-fullname": NAME }, NAME],
  dashedName: [{ "x-full-name": NAME }, NAME],
  camelName: [{ "X-FullName": NAME }, NAME],
  dashedForJoinedRule: [{ "x-account-number": ACCOUNT }, ACCOUNT],
  underscoredForJoinedRule: [{ "x-account_number": ACCOUNT }, ACCOUNT],
  joinedForPascalRule: [{ "x-membercode": MEMBER }, MEMBER],
  queryDashed: [{ location: `/accounts?account-number=${ACCOUNT}&page=2` }, ACCOUNT],
  queryJoined: [{ location: `/people?fullname=${encodeURIComponent(NAME)}` }, "Lovelace"],
  queryCamel: [{ location: `/people?fullName=${encodeURIComponent(NAME)}` }, "Lovelace"],
  queryEncodedName: [{ location: `/accounts?account%2Dnumber=${ACCOUNT}` }, ACCOUNT],
  customPairs: [{ "x-links": `membercode=${MEMBER}; x=1` }, MEMBER],
  linkPair: [{ link: `</m?member_code=${MEMBER}>; rel="next"` }, MEMBER],
  jsonValue: [{ "x-data": JSON.stringify({ fullName: NAME, n: 1 }) }, NAME],
};

const MUST_ALLOW: Record<string, OutgoingHttpHeaders> = {
  session: { "x-session": "sess-abc", "x-session-id": "s-1", "x-lessons": "2" },
  longerWords: { "x-fullness": "3", "x-account-numbers": "7", "x-membercodes": "2", "x-names": "Bob" },
  partialWords: { "x-full": "yes", "x-account": "main", "x-name": "Bob", "x-code": "Q" },
  query: { location: "/p?session=abc&fullnames=2&account=9&name=Bob", link: '</p?page=3&membercodes=2>; rel="next"' },
};

describeHeaderCases({
  rules: RULES,
  leaky: LEAKY,
  mustAllow: MUST_ALLOW,
  leakyTitle: "a header's value is masked whatever the spelling of the field rule's name in it",
  mustAllowTitle: "must-allow: headers that only contain a word, or a longer one, pass byte for byte",
});
