import pg from "pg";

/** What a statement came to: its rows, or the server's (or regate's) error. */
export interface Outcome {
  rows?: Record<string, unknown>[];
  code?: string;
  message?: string;
}

/** Runs `sql` on `client`; after an error the client's transaction is rolled back, so the next statement runs. */
export async function attemptOn(client: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome> {
  try {
    const r = await client.query(sql);
    return { rows: r.rows };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    const err = e as pg.DatabaseError;
    return { code: err.code, message: err.message };
  }
}

/** "ok", or the SQLSTATE a statement failed with; nothing is rolled back (the caller's transaction state is the test's). */
export const outcomeCode = (c: pg.Client, sql: string | pg.QueryConfig): Promise<string> =>
  c.query(sql).then(
    () => "ok",
    (e: pg.DatabaseError) => e.code ?? "?",
  );

/** A node-postgres client connected to `url` whose 'error' events (a session regate ends) are not thrown. */
export async function connectClient(url: string, config: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...config });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** `sql` on a connection of its own to `url` (the database itself, not regate): its rows as JSON, or the error's message. */
export async function directJson(url: string, sql: string): Promise<string> {
  const c = await connectClient(url);
  try {
    return JSON.stringify((await c.query(sql)).rows);
  } catch (e) {
    return (e as Error).message;
  } finally {
    await c.end();
  }
}
