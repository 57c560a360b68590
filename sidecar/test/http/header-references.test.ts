// Pairs in response header values spelled with HTML character references, and pairs inside the parameter
// values of standard headers (RFC 8187 extended values, quoted and token file names, descriptions), under a
// field rule for `name` (a value no detector finds). An agent reads `name&#61;Alice` as `name=Alice` and
// `filename*=UTF-8''name%3DAlice` as a file called `name=Alice`: the value is masked where it is bounded, and
// the header redacted whole where regate cannot map it back. A real upstream, a real gateway, what the agent read.
import type { OutgoingHttpHeaders } from "node:http";
import type { MaskRule } from "../../src/decision/types.js";
import { describeHeaderCases } from "./header-cases.js";

const RULES: MaskRule[] = [{ field: "name", strategy: "redact" }];
const S = "Quixotic";
const LEAKY: Record<string, [OutgoingHttpHeaders, string]> = {
  decimal: [{ "x-q": `a=b&name&#61;${S}` }, S],
  hex: [{ "x-q": `name&#x3d;${S}` }, S],
  hexUpper: [{ "x-q": `name&#X3D;${S}` }, S],
  leadingZeros: [{ "x-q": `name&#0061;${S}` }, S],
  noSemicolon: [{ "x-q": `name&#61${S}` }, S],
  named: [{ "x-q": `name&equals;${S}` }, S],
  colonRef: [{ "x-q": `name&colon; ${S}` }, S],
  keyRef: [{ "x-q": `na&#109;e=${S}` }, S],
  valueRef: [{ "x-q": `name=&#81;uixotic` }, "uixotic"],
  ampSeparator: [{ "x-q": `a=1&#38name=${S}` }, S],
  refInLocation: [{ location: `/p?name&#61;${S}` }, S],
  refInLink: [{ link: `</p?a=1&amp;name&#61;${S}>; rel="next"` }, S],
  refOfRef: [{ "x-q": `name&amp;#61;${S}` }, S],
  refOfEscape: [{ "x-q": `name&#37;3D${S}` }, S],
  escapeOfRef: [{ location: `/p?name%26%2361%3B${S}` }, S],
  refAndEscapedKey: [{ "x-q": `na%6De&#61;${S}` }, S],
  htmlJson: [{ "x-q": `{&quot;name&quot;:&quot;${S}&quot;}` }, S],
  extFilename: [{ "content-disposition": `attachment; filename*=UTF-8''name%3D${S}` }, S],
  extFilenameLang: [{ "content-disposition": `attachment; filename*=UTF-8'en'name%3D${S}.csv` }, S],
  extFilenameSemicolon: [{ "content-disposition": `attachment; filename*=UTF-8''x%3B%20name%3D${S}` }, S],
  extFilenameTwice: [{ "content-disposition": `attachment; filename*=UTF-8''x%253B%2520name%253D${S}` }, S],
  extTitle: [{ link: `</p>; rel="next"; title*=UTF-8''name%3D${S}` }, S],
  quotedFilename: [{ "content-disposition": `attachment; filename="name=${S}.csv"` }, S],
  tokenFilename: [{ "content-disposition": `attachment; filename=name=${S}.csv` }, S],
  refFilename: [{ "content-disposition": `attachment; filename="name&#61;${S}.csv"` }, S],
  refSemicolonFilename: [{ "content-disposition": `attachment; filename=x&#59;name&#61;${S}` }, S],
  colonFilename: [{ "content-disposition": `attachment; filename="name: ${S}.pdf"` }, S],
  description: [{ "www-authenticate": `Bearer realm="api", error_description="no user with name=${S}"` }, S],
};
const MUST_ALLOW: Record<string, OutgoingHttpHeaders> = {
  ampQuery: { "x-q": "a=1&amp;b=2" },
  ampLink: { link: '</p?a=1&amp;b=2>; rel="next"' },
  ampLocation: { location: "/p?page=2&amp;sort=name" },
  ampText: { "x-note": "Tom &amp; Jerry" },
  extFilename: { "content-disposition": "attachment; filename*=UTF-8''report%20final.csv" },
  bothFilenames: { "content-disposition": "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" },
  cacheControl: { "cache-control": "max-age=60, s-maxage=120" },
  charset: { "content-type": "text/html; charset=utf-8" },
  boundary: { "content-type": "multipart/mixed; boundary=----=_NextPart_000_0001" },
  authenticate: { "www-authenticate": 'Bearer realm="api", error="invalid_token"' },
  altSvc: { "alt-svc": 'h3=":443"; ma=86400' },
};
describeHeaderCases({ rules: RULES, leaky: LEAKY, mustAllow: MUST_ALLOW, leakyTitle: "references and parameter values", mustAllowTitle: "allow" });
