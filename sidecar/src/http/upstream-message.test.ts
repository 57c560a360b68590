import { request } from "node:http";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { nodeHeaders, rawHeaderStrings } from "./upstream-message.js";

/** What node:http's own client makes of a response head: the shape regate's consumers were written against. */
function nodeReads(head: string): Promise<{ headers: unknown; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => s.once("data", () => s.end(Buffer.from(`${head}content-length: 0\r\n\r\n`, "latin1"))));
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      request({ port, host: "127.0.0.1", agent: false }, (res) => {
        res.resume();
        srv.close();
        resolve({ headers: { ...res.headers }, raw: res.rawHeaders });
      })
        .on("error", reject)
        .end();
    });
  });
}

const DROPPED = ["age", "authorization", "content-type", "etag", "expires", "from", "host", "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after", "server", "user-agent"];

describe("nodeHeaders folds repeats exactly as node:http's client does", () => {
  it.each([
    ...DROPPED.map((name) => [name, `HTTP/1.1 200 OK\r\n${name}: a\r\n${name.toUpperCase()}: b\r\n`]),
    ["set-cookie", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"],
    ["cookie", "HTTP/1.1 200 OK\r\ncookie: a=1\r\nCookie: b=2\r\n"],
    ["vary and unknown names", "HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\nX-Odd: 1\r\nx-odd: 2\r\nx-odd: 3\r\n"],
    ["latin1 bytes", "HTTP/1.1 200 OK\r\nx-name: caf\xe9\xff\r\nx-name: \x80\r\n"],
    ["empty values and inner spaces", "HTTP/1.1 200 OK\r\nx-e:\r\nx-e: a  b\r\n"],
    ["__proto__", "HTTP/1.1 200 OK\r\n__proto__: x\r\nx-a: 1\r\n"],
  ])("%s", async (_name, head) => {
    const node = await nodeReads(head as string);
    // What undici hands over: the same pairs, as bytes.
    const raw = rawHeaderStrings(node.raw.map((s) => Buffer.from(s, "latin1")));
    expect(raw).toEqual(node.raw);
    expect({ ...nodeHeaders(raw) }).toEqual(node.headers);
  });
});

describe("rawHeaderStrings", () => {
  it("drops a value's trailing spaces and tabs, as node:http does (undici keeps them), and keeps inner ones", () => {
    const raw = ["X-A", "a b \t ", "X-B", "", "X-C", " \t", "X-D", "caf\xe9\t"].map((s) => Buffer.from(s, "latin1"));
    expect(rawHeaderStrings(raw)).toEqual(["X-A", "a b", "X-B", "", "X-C", "", "X-D", "caf\xe9"]);
  });
});
