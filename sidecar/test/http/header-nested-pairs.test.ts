// Pairs nested in response header values under a field rule for `name` (a value no detector finds): a URL in
// a parameter, percent-encoded once or twice, Refresh's `url=`, a `host/name=` path, JSON members (plain,
// percent-encoded, escaped, single-quoted) inside values that are not JSON as a whole, URLs inside the quoted
// parameters of standard headers. A real upstream, a real gateway, what the agent read.
import type { OutgoingHttpHeaders } from "node:http";
import type { MaskRule } from "../../src/decision/types.js";
import { describeHeaderCases } from "./header-cases.js";

const RULES: MaskRule[] = [{ field: "name", strategy: "redact" }];
const S = "Quixotic";
const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  locEnc: [{ location: `https://h/p?redirect=https%3A%2F%2Fx%2Fp%3Fname%3D${S}` }, S],
  locEnc2: [{ location: `https://h/p?redirect=https%253A%252F%252Fx%252Fp%253Fname%253D${S}` }, S],
  linkNested: [{ link: `<https://x/p?redirect=https://y/q?name=${S}>; rel="next"` }, S],
  refresh: [{ refresh: `0; url=/p?name=${S}` }, S],
  refreshAbs: [{ refresh: `0; url=https://h/p?name=${S}` }, S],
  custom: [{ "x-q": `a=b&name=${S}` }, S],
  pathPair: [{ "x-q": `example.com/name=${S}` }, S],
  pathPairLoc: [{ location: `https://example.com/name=${S}` }, S],
  pathPairBare: [{ location: `example.com/name=${S}` }, S],
  contentLoc: [{ "content-location": `/x?redirect=%2Fp%3Fname%3D${S}` }, S],
  jsonCustom: [{ "x-j": `{"name":"${S}"}` }, S],
  jsonNested: [{ "x-j": `{"user":{"name":"${S}"}}` }, S],
  jsonPct: [{ "x-j": encodeURIComponent(`{"name":"${S}"}`) }, S],
  jsonInLoc: [{ location: `/p?state=${encodeURIComponent(`{"name":"${S}"}`)}` }, S],
  contentDisp: [{ "content-disposition": `attachment; filename="x?name=${S}"` }, S],
  wwwAuth: [{ "www-authenticate": `Bearer realm="x", error_uri="https://h/p?name=${S}"` }, S],
  linkEncodedBrackets: [{ link: `<https://x/p?q=a%26name%3D${S}>` }, S],
  fragment: [{ location: `https://x/p#name=${S}` }, S],
  semicolonQuery: [{ location: `https://x/p?a=1;name=${S}` }, S],
  plusSpace: [{ location: `https://x/p?name=${S}+Jones` }, S],
  quoted: [{ "x-q": `name="${S} Jones"` }, S],
  colon: [{ "x-q": `name: ${S}` }, S],
  jsonStringInPair: [{ "x-q": `data={"name":"${S}"}` }, S],
  encodedKey: [{ location: `https://x/p?na%6De=${S}` }, S],
  encodedEq: [{ location: `https://x/p?name%3D${S}` }, S],
  matrix: [{ location: `https://x/p;name=${S}/q` }, S],
  pyRepr: [{ "x-q": `debug={'name': '${S}'}` }, S],
  keyEscape: [{ "x-q": `d={"na\\u006de":"${S}"}` }, S],
  objectValue: [{ "x-q": `d={"name":{"first":"${S}"}}` }, S],
  backslash: [{ "x-q": `{\\"name\\":\\"${S}\\"}` }, S],
};
describeHeaderCases({ rules: RULES, leaky: LEAKY, mustAllow: { k8s: { "x-labels": "app.kubernetes.io/name=web" }, cache: { "cache-control": "max-age=60" }, plainLoc: { location: "https://h/p?next=https%3A%2F%2Fx%2Fq%3Fpage%3D2" }, disp: { "content-disposition": 'attachment; filename="report.csv"' } }, leakyTitle: "leaky", mustAllowTitle: "allow" });
