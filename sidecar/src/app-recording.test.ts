import { describe, expect, it } from "vitest";
import { heldSecrets } from "./app-recording.js";
import { loadConfig } from "./config/load.js";

describe("heldSecrets", () => {
  it("holds a webhook URL and its path, URL passwords and long query values, not short ones", () => {
    const text = [
      "approvals:",
      "  webhook: {url: {value: 'https://hooks.slack.example/services/T0ABC/B0DEF/abcdefghijklmnop'}}",
      "policy:",
      "  service: {url: 'https://bundler:s3cr3t-pass@bundles.example/b?sig=0123456789abcdef&v=1'}",
      "export:",
      "  ocsf: {enabled: true, endpoint: 'https://siem.example/ingest?token=tok-ABCDEFGHIJKLMN&fmt=json'}",
    ].join("\n");
    const held = heldSecrets(loadConfig({ text, env: {}, baseDir: "/etc/regate" }));
    expect(held).toEqual(
      expect.arrayContaining([
        "https://hooks.slack.example/services/T0ABC/B0DEF/abcdefghijklmnop",
        "/services/T0ABC/B0DEF/abcdefghijklmnop",
        "s3cr3t-pass",
        "0123456789abcdef",
        "tok-ABCDEFGHIJKLMN",
      ]),
    );
    expect(held).not.toContain("1");
    expect(held).not.toContain("json");
  });
});
