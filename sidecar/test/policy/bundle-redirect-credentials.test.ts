// A bundle server (or whoever answers for it) redirects the poll to another host: that host gets neither the
// bearer token nor the client certificate (mTLS) configured for the bundle server, and the bundle still loads.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleDownloader, PolicyStore } from "../../src/policy/index.js";
import { ALLOW, opaBuild } from "./opa.js";

let dir: string;
const servers: Server[] = [];
const pem = (name: string, cn: string) => {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "regate-redirect-"));
}, 60_000);
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listen(s: Server): Promise<string> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe("a redirect to another host", () => {
  it("gets neither the bearer token nor the client certificate", async () => {
    const server = pem("server", "127.0.0.1");
    const client = pem("client", "regate-sidecar-7");
    const bundle = opaBuild({ revision: "elsewhere", rego: ALLOW });
    const seen: { authorization?: string; certificate: boolean }[] = [];
    // The other host asks for a client certificate (and takes any), as a server hoping to collect one would.
    const other = await listen(
      createServer({ cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), certificate: Boolean(peer && Object.keys(peer).length) });
        res.writeHead(200, { "content-type": "application/gzip" }).end(bundle);
      }),
    );
    let homeSawCertificate = false;
    const home = await listen(
      createServer({ cert: server.cert, key: server.key, ca: client.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        homeSawCertificate = (req.socket as TLSSocket).authorized && req.headers.authorization === "Bearer s3cret-token";
        res.writeHead(302, { location: `${other}/bundle.tar.gz` }).end();
      }),
    );
    const store = new PolicyStore("unused");
    const dl = new BundleDownloader(store, { url: `${home}/bundle.tar.gz`, token: "s3cret-token", ca: server.cert, cert: client.cert, key: client.key, minDelayMs: 60_000, maxDelayMs: 60_000, longPollSeconds: 0 });
    try {
      await dl.start();
      expect(store.active?.revision).toBe("elsewhere");
      expect(homeSawCertificate).toBe(true);
      expect(seen).toEqual([{ certificate: false }]);
    } finally {
      dl.stop();
      store.close();
    }
  }, 60_000);
});
