import { createServer, type Server } from "node:http";
import { timingSafeEqual } from "node:crypto";
import pg from "pg";

/**
 * A small internal API for the walkthrough, backed by the demo database. It trusts only the
 * credential regate injects: an agent calling it directly has no token for it.
 */
export function startDemoApi(opts: { port: number; token: string; databaseUrl: string }): Promise<Server> {
  const db = new pg.Pool({ connectionString: opts.databaseUrl, max: 2 });
  const expected = Buffer.from(`Bearer ${opts.token}`);
  const server = createServer(async (req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const auth = Buffer.from(req.headers.authorization ?? "");
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return json(401, { error: "unauthorized" });
    const url = new URL(req.url ?? "/", "http://demo");
    const parts = url.pathname.split("/").filter(Boolean);
    try {
      if (req.method === "GET" && parts[0] === "customers" && parts[1]) {
        const { rows } = await db.query("SELECT id, full_name, email, phone, ssn, card_number FROM public.customers WHERE id = $1", [Number(parts[1])]);
        return rows[0] ? json(200, rows[0]) : json(404, { error: "not found" });
      }
      if (req.method === "GET" && parts[0] === "orders") {
        const { rows } = await db.query("SELECT id, customer_id, amount, status FROM public.orders ORDER BY id LIMIT 5");
        return json(200, { orders: rows });
      }
      if (req.method === "DELETE" && parts[0] === "orders") return json(200, { deleted: parts[1] });
      if (req.method === "POST" && parts[0] === "refunds") return json(201, { refund: "created" });
      return json(404, { error: "not found" });
    } catch {
      return json(500, { error: "demo api failed" });
    }
  });
  server.on("close", () => void db.end());
  return new Promise((resolve) => server.listen(opts.port, "127.0.0.1", () => resolve(server)));
}
