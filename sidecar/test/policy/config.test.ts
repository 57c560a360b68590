import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { DEFAULT_EVAL_TIMEOUT_MS, storeOptions } from "../../src/policy/index.js";

const load = (policy: unknown) => loadConfig({ text: stringify({ policy }), env: { HMAC: "shh" } });
const problems = (policy: unknown): string[] => {
  try {
    load(policy);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe("policy.service and policy.signing config", () => {
  it("defaults: OPA's polling delays, persistence on, signing required once configured", () => {
    const c = load({ service: { url: "http://b:8181" }, signing: { keys: { k: { algorithm: "HS256", key: { env: "HMAC" } } } } });
    expect(c.policy.service).toEqual({ url: "http://b:8181", resource: "bundles/bundle.tar.gz", min_delay_seconds: 60, max_delay_seconds: 120, long_polling_timeout_seconds: 0, persist: true });
    expect(c.policy.signing).toMatchObject({ required: true, allow_rollback: false, exclude_files: [] });
    // The key is a secret: resolved for use, never printed.
    expect(JSON.stringify(c.policy.signing)).not.toContain("shh");
    expect(storeOptions(c.policy, "regate").signing?.keys["k"]).toEqual({ algorithm: "HS256", key: "shh" });
  });

  it.each([
    { name: "signing without keys", policy: { signing: {} }, want: "policy.signing.keys: at least one key is needed to verify bundles" },
    { name: "keyid not among the keys", policy: { signing: { keyid: "x", keys: { k: { algorithm: "RS256", key: { value: "pem" } } } } }, want: "policy.signing.keyid: x is not in policy.signing.keys" },
    { name: "min delay above max", policy: { service: { url: "http://b", min_delay_seconds: 10, max_delay_seconds: 5 } }, want: "policy.service.min_delay_seconds: greater than max_delay_seconds" },
    { name: "unknown algorithm", policy: { signing: { keys: { k: { algorithm: "none", key: { value: "x" } } } } }, want: "policy.signing.keys.k.algorithm: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384, HS512" },
    { name: "a URL that is not http(s)", policy: { service: { url: "file:///etc" } }, want: 'policy.service.url: must match pattern "^https?://"' },
  ])("refused: $name", ({ policy, want }) => {
    expect(problems(policy)).toEqual([want]);
  });

  it("no signing section: signatures are not checked (as OPA without a signing config)", () => {
    expect(storeOptions(load({ eval_timeout_ms: 250 }).policy, "regate")).toEqual({ name: "regate", evalTimeoutMs: 250, entrypoint: "regate/decision" });
  });

  it("policy.eval_timeout_ms reaches the store with or without signing; negative is refused", () => {
    const signed = load({ eval_timeout_ms: 40, signing: { keys: { k: { algorithm: "HS256", key: { env: "HMAC" } } } } });
    expect(storeOptions(signed.policy, "regate").evalTimeoutMs).toBe(40);
    expect(problems({ eval_timeout_ms: -1 })).toEqual(["policy.eval_timeout_ms: must be >= 0"]);
  });

  it("policy.eval_timeout_ms is on by default, with the budget regate eval and whatif use; 0 turns it off", () => {
    expect(load({}).policy.eval_timeout_ms).toBe(DEFAULT_EVAL_TIMEOUT_MS);
    expect(DEFAULT_EVAL_TIMEOUT_MS).toBe(1000);
    expect(storeOptions(load({ eval_timeout_ms: 0 }).policy, "regate").evalTimeoutMs).toBe(0);
  });
});
