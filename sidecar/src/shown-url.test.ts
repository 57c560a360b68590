import { describe, expect, it } from "vitest";
import { looksLikeUrl, shownUrl } from "./shown-url.js";

describe("shownUrl", () => {
  it.each([
    ["user and password: the userinfo goes", "https://bundles:pw-9f2e@bundles.example/v1", "https://[REDACTED]@bundles.example/v1"],
    ["password only", "https://:pw-9f2e@bundles.example/v1", "https://[REDACTED]@bundles.example/v1"],
    ["query values go, names stay (once each)", "https://c.example/e?token=t-71aa&sig=s-04&token=t-2", "https://c.example/e?token=[REDACTED]&sig=[REDACTED]"],
    ["a fragment is left out", "https://c.example/e#access_token=f-5c1d", "https://c.example/e"],
    ["all at once", "http://u:pw-9f2e@h:81/p?k=v-1#frag-3", "http://[REDACTED]@h:81/p?k=[REDACTED]"],
    ["nothing to hide: shown as written", "http://127.0.0.1:9100", "http://127.0.0.1:9100"],
    ["a user name alone goes too (it may be the token)", "https://ghp-5d1c0a@h.example/x", "https://[REDACTED]@h.example/x"],
    ["unparsable, with a scheme: the scheme only", "https://splunk.example:80 88/?token=t-71aa", "https://[REDACTED: not a URL]"],
    ["without `scheme://`, even if it parses: nothing of it", "svc:pw-9f2e at h.example", "[REDACTED: not a URL]"],
    ["unparsable, without a scheme: nothing of it", "h.example:80 88/?token=t-71aa", "[REDACTED: not a URL]"],
  ])("%s", (_why, input, shown) => {
    expect(shownUrl(input)).toBe(shown);
  });
});

describe("looksLikeUrl", () => {
  it.each([
    ["https://h", true],
    ["postgres://u@h/db", true],
    ["regate", false],
    ["/etc/regate/bundle.tar.gz", false],
  ])("%s: %s", (v, expected) => {
    expect(looksLikeUrl(v)).toBe(expected);
  });
});
