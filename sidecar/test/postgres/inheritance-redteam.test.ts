// Findings of a red-team pass, through regate with the example policy, judged by the bytes that reach the client
// and by what the database did: inheritance children and partitions of a masked or protected table. A child's rows
// are the parent's rows (SELECT FROM parent returns them), and a partition's rows are its partitioned table's, so
// reading, writing or copying a child is reading, writing or copying its ancestors. The policy names the
// ancestors (public.customers, internal.*); regate must see the child as each of them.
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/config/index.js";
import { Catalog } from "../../src/postgres/catalog.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const STALENESS_MS = 300;
/** The rows the database owner puts in the children: values that must never reach the agent raw. */
const ARCHIVED = { id: 9001, ssn: "731-44-9012", card: "4929123456781234", email: "archived.person@example.org", phone: "+1-555-010-7788" };
const OLDER = { id: 9002, ssn: "812-55-3401", card: "5105105105105100" };
const LATE = { id: 9003, ssn: "655-12-0987", card: "4000056655665556" };
const AUDIT_SECRET = "sk_live_partitioned_audit_secret_41";

beforeAll(async () => {
  db = await startPostgres();
  // Made by the database owner, as partitions and archive tables are in real deployments.
  await db.query(`
    CREATE TABLE public.customers_archive (archived_at timestamptz NOT NULL DEFAULT now()) INHERITS (public.customers);
    CREATE TABLE public.customers_archive_2023 () INHERITS (public.customers_archive);
    INSERT INTO public.customers_archive (id, full_name, email, phone, ssn, card_number, created_at)
      VALUES (${ARCHIVED.id}, 'Archived Person', '${ARCHIVED.email}', '${ARCHIVED.phone}', '${ARCHIVED.ssn}', '${ARCHIVED.card}', now());
    INSERT INTO public.customers_archive_2023 (id, full_name, email, ssn, card_number, created_at)
      VALUES (${OLDER.id}, 'Older Person', 'older.person@example.org', '${OLDER.ssn}', '${OLDER.card}', now());
    CREATE TABLE public.orders_archive () INHERITS (public.orders);
    INSERT INTO public.orders_archive (id, customer_id, amount, status, created_at) VALUES (9001, 1, 10, 'pending', now());
    CREATE TABLE public.orders_and_customers () INHERITS (public.orders, public.customers);
    CREATE TABLE public.payments_archive () INHERITS (public.payments);
    INSERT INTO public.payments_archive (id, order_id, amount, card_number, status) VALUES (9001, 1, 10, '${ARCHIVED.card}', 'captured');
    CREATE TABLE internal.audit_log (id int NOT NULL, at date NOT NULL, secret text) PARTITION BY RANGE (at);
    CREATE TABLE public.audit_log_2024 PARTITION OF internal.audit_log FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (at);
    CREATE TABLE public.audit_log_2024_01 PARTITION OF public.audit_log_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
    CREATE TABLE public.audit_log_2024_rest PARTITION OF public.audit_log_2024 FOR VALUES FROM ('2024-02-01') TO ('2025-01-01');
    INSERT INTO internal.audit_log VALUES (1, '2024-01-05', '${AUDIT_SECRET}'), (2, '2024-03-01', '${AUDIT_SECRET}');
    CREATE TABLE public.orders_by_month (id int NOT NULL, month date NOT NULL, amount numeric NOT NULL) PARTITION BY RANGE (month);
    CREATE TABLE public.orders_by_month_2024 PARTITION OF public.orders_by_month FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE public.late_child (LIKE public.customers);
    INSERT INTO public.late_child (id, full_name, email, ssn, card_number, created_at)
      VALUES (${LATE.id}, 'Late Person', 'late.person@example.org', '${LATE.ssn}', '${LATE.card}', now());
    CREATE VIEW public.archive_view AS SELECT id, ssn, card_number FROM public.customers_archive;
    GRANT ALL ON public.archive_view, public.customers_archive, public.orders_archive, public.orders_and_customers, public.customers_archive_2023, public.payments_archive, internal.audit_log,
      public.audit_log_2024, public.audit_log_2024_01, public.audit_log_2024_rest, public.orders_by_month,
      public.orders_by_month_2024, public.late_child TO app_scram`);
  regate = await startRegate(db, { postgres: { catalog: { max_staleness_ms: STALENESS_MS } } });
  agent = await client();
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: regate.url() });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const rawValues = [ARCHIVED.ssn, ARCHIVED.card, ARCHIVED.email, ARCHIVED.phone, OLDER.ssn, OLDER.card, LATE.ssn, LATE.card, AUDIT_SECRET];

/** What the agent got, as text; the raw values are not in it. */
async function shown(sql: string, c = agent): Promise<Record<string, unknown>[]> {
  const r = await c.query(sql);
  const text = JSON.stringify(r.rows);
  for (const v of rawValues) expect(text).not.toContain(v);
  return r.rows as Record<string, unknown>[];
}

async function refused(sql: string, code = "42501", c = agent): Promise<string> {
  const err = await c.query(sql).then(
    () => undefined,
    (e: pg.DatabaseError) => e,
  );
  expect(err, sql).toBeDefined();
  expect(err!.code).toBe(code);
  return err!.message;
}

async function direct(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.query(sql)) as Record<string, unknown>[];
}

const partialCard = (card: string) => `${"*".repeat(card.length - 4)}${card.slice(-4)}`;

describe("an inheritance child of a table with masked columns is masked as its parent", () => {
  it("the child's own name: ssn redacted, card_number partial, e-mail partial", async () => {
    const sql = `SELECT ssn, card_number, email, phone FROM customers_archive WHERE id = ${ARCHIVED.id}`;
    expect((await direct(sql))[0]).toMatchObject({ ssn: ARCHIVED.ssn, card_number: ARCHIVED.card });
    expect(await shown(sql)).toEqual([{ ssn: "****", card_number: partialCard(ARCHIVED.card), email: "***@example.org", phone: "****" }]);
  });

  it("schema-qualified, ONLY, aliased, through a subquery and a CTE", async () => {
    const id = ARCHIVED.id;
    for (const sql of [
      `SELECT ssn FROM public.customers_archive WHERE id = ${id}`,
      `SELECT ssn FROM ONLY public.customers_archive WHERE id = ${id}`,
      `SELECT a.ssn AS s FROM customers_archive a WHERE a.id = ${id}`,
      `SELECT s FROM (SELECT ssn AS s FROM customers_archive WHERE id = ${id}) x`,
      `WITH x AS (SELECT ssn FROM customers_archive WHERE id = ${id}) SELECT ssn FROM x`,
    ]) {
      expect(Object.values((await shown(sql))[0]!), sql).toEqual(["****"]);
    }
  });

  it("SELECT * and a whole row: every inherited masked column masked, the child's own column kept", async () => {
    const [row] = await shown(`SELECT * FROM customers_archive WHERE id = ${ARCHIVED.id}`);
    expect(row).toMatchObject({ ssn: "****", phone: "****", card_number: partialCard(ARCHIVED.card), full_name: "Archived Person" });
    expect(row!["archived_at"]).not.toBe("****");
    await shown(`SELECT a FROM customers_archive a WHERE id = ${ARCHIVED.id}`);
    await shown(`SELECT row_to_json(a) FROM customers_archive a WHERE id = ${ARCHIVED.id}`);
  });

  it("a grandchild (two levels of inheritance)", async () => {
    const sql = `SELECT ssn, card_number FROM customers_archive_2023 WHERE id = ${OLDER.id}`;
    expect(await shown(sql)).toEqual([{ ssn: "****", card_number: partialCard(OLDER.card) }]);
  });

  it("through a view the database owner made over the child, and TABLE", async () => {
    expect(await shown(`SELECT ssn, card_number FROM archive_view WHERE id = ${ARCHIVED.id}`)).toEqual([{ ssn: "****", card_number: partialCard(ARCHIVED.card) }]);
    await shown("TABLE customers_archive_2023");
  });

  it("extended protocol, text and binary", async () => {
    const text = await agent.query({ text: "SELECT ssn, card_number FROM customers_archive WHERE id = $1", values: [ARCHIVED.id] });
    expect(text.rows).toEqual([{ ssn: "****", card_number: partialCard(ARCHIVED.card) }]);
    const binary = await agent.query({ text: "SELECT ssn FROM customers_archive WHERE id = $1", values: [ARCHIVED.id], binary: true });
    expect(binary.rows).toEqual([{ ssn: "****" }]);
  });

  it("COPY of the child is refused as COPY of customers is", async () => {
    await refused("COPY customers_archive TO STDOUT");
    await refused("COPY (SELECT ssn FROM customers_archive) TO STDOUT");
  });

  it("a masked column of the child does not reach a function with side effects (pg_notify)", async () => {
    const app = new pg.Client({ connectionString: db.url(db.users.scram.user) });
    await app.connect();
    const heard: string[] = [];
    app.on("notification", (n) => heard.push(n.payload ?? ""));
    try {
      await app.query("LISTEN inh_leak");
      await refused(`SELECT pg_notify('inh_leak', ssn) FROM customers_archive WHERE id = ${ARCHIVED.id}`);
      await app.query("SELECT 1");
      await new Promise((r) => setTimeout(r, 100));
      expect(heard).toEqual([]);
    } finally {
      await app.end();
    }
  });

  it("must-allow: reading the parent shows the children's rows masked, ONLY the parent none of them", async () => {
    expect(await shown(`SELECT id, ssn FROM customers WHERE id IN (${ARCHIVED.id}, ${OLDER.id}) ORDER BY id`)).toEqual([
      { id: ARCHIVED.id, ssn: "****" },
      { id: OLDER.id, ssn: "****" },
    ]);
    expect(await shown(`SELECT id FROM ONLY customers WHERE id = ${ARCHIVED.id}`)).toEqual([]);
    // The child's columns that are not masked anywhere stay readable.
    expect(await shown(`SELECT full_name FROM customers_archive WHERE id = ${ARCHIVED.id}`)).toEqual([{ full_name: "Archived Person" }]);
  });
});

describe("writes to a child are writes to its ancestors", () => {
  it.each([
    ["UPDATE of the customers child", `UPDATE customers_archive SET ssn = '000-00-0000' WHERE id = ${ARCHIVED.id}`],
    ["DELETE from the customers grandchild", `DELETE FROM customers_archive_2023 WHERE id = ${OLDER.id}`],
    ["UPDATE of the payments child, without approval", "UPDATE payments_archive SET amount = 0 WHERE id = 9001"],
    ["TRUNCATE of the payments child", "TRUNCATE payments_archive"],
  ])("%s is refused and changes nothing", async (_name, sql) => {
    const before = await direct("SELECT (SELECT count(*) FROM public.customers) c, (SELECT sum(amount) FROM public.payments) p, (SELECT string_agg(ssn, ',' ORDER BY id) FROM public.customers WHERE id > 9000) s");
    await refused(sql);
    expect(await direct("SELECT (SELECT count(*) FROM public.customers) c, (SELECT sum(amount) FROM public.payments) p, (SELECT string_agg(ssn, ',' ORDER BY id) FROM public.customers WHERE id > 9000) s")).toEqual(before);
  });

  it("the decision names the ancestor: payments writes need approval whichever child is named", async () => {
    const message = await refused("UPDATE payments_archive SET amount = 0 WHERE id = 9001");
    expect(message).toMatch(/payments need approval/);
  });

  it("a partition of a table the agent may not write is refused however it is named", async () => {
    await refused("INSERT INTO orders_by_month_2024 VALUES (1, '2024-05-01', 3)");
    await refused("INSERT INTO orders_by_month VALUES (1, '2024-05-01', 3)");
    expect(await direct("SELECT count(*)::int AS n FROM public.orders_by_month")).toEqual([{ n: 0 }]);
  });

  it("must-allow: a child of orders, which the agent may write, is written as orders is", async () => {
    await agent.query("UPDATE orders_archive SET status = 'shipped' WHERE id = 9001");
    expect(await direct("SELECT status FROM public.orders WHERE id = 9001")).toEqual([{ status: "shipped" }]);
    // A child of orders that is also a child of customers holds customers rows: refused.
    expect(await refused("UPDATE orders_and_customers SET id = id WHERE id = 1")).toMatch(/writing public.customers/);
  });
});

describe("partitions of a protected (internal.*) partitioned table", () => {
  it.each([
    ["a partition in public", "SELECT secret FROM audit_log_2024_rest"],
    ["a sub-partition (partition of a partition)", "SELECT * FROM public.audit_log_2024_01"],
    ["the middle level, itself partitioned", "SELECT count(*), max(secret) FROM audit_log_2024"],
    ["a partition through a CTE", "WITH a AS (SELECT secret FROM audit_log_2024_01) SELECT * FROM a"],
    ["COPY of a partition", "COPY audit_log_2024_01 TO STDOUT"],
  ])("reading %s is refused", async (_name, sql) => {
    expect(JSON.stringify(await direct(sql.startsWith("COPY") ? "SELECT * FROM public.audit_log_2024_01" : sql))).toContain(AUDIT_SECRET);
    expect(await refused(sql)).toMatch(/internal/);
  });

  it.each([
    ["INSERT into a partition", `INSERT INTO audit_log_2024_01 VALUES (3, '2024-01-09', 'x')`],
    ["UPDATE of a sub-partition", "UPDATE audit_log_2024_01 SET secret = 'x' WHERE id = 1"],
    ["DELETE from a partition", "DELETE FROM audit_log_2024_rest WHERE id = 2"],
    ["TRUNCATE of a partition", "TRUNCATE audit_log_2024_rest"],
  ])("%s is refused and changes nothing", async (_name, sql) => {
    const before = await direct("SELECT id, secret FROM internal.audit_log ORDER BY id");
    await refused(sql);
    expect(await direct("SELECT id, secret FROM internal.audit_log ORDER BY id")).toEqual(before);
  });
});

describe("a child attached after regate first saw the table", () => {
  it("is masked once the catalog re-checks it (within max staleness), in the same session", async () => {
    const sql = `SELECT ssn FROM late_child WHERE id = ${LATE.id}`;
    // Not a child yet: late_child is a table of its own, and the policy masks nothing of it.
    expect((await agent.query(sql)).rows).toEqual([{ ssn: LATE.ssn }]);
    await db.query("ALTER TABLE public.late_child INHERIT public.customers");
    await new Promise((r) => setTimeout(r, STALENESS_MS * 2));
    expect(await shown(sql)).toEqual([{ ssn: "****" }]);
    expect(await shown(`SELECT ssn FROM customers WHERE id = ${LATE.id}`)).toEqual([{ ssn: "****" }]);
  });

  it("a partition attached later to the internal table is refused", async () => {
    await db.query(`CREATE TABLE public.audit_log_2023 (LIKE internal.audit_log); GRANT ALL ON public.audit_log_2023 TO app_scram;
      INSERT INTO public.audit_log_2023 VALUES (5, '2023-03-03', '${AUDIT_SECRET}')`);
    expect(await agent.query("SELECT id FROM audit_log_2023")).toMatchObject({ rows: [{ id: 5 }] });
    await db.query("ALTER TABLE internal.audit_log ATTACH PARTITION public.audit_log_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')");
    await new Promise((r) => setTimeout(r, STALENESS_MS * 2));
    await refused("SELECT secret FROM audit_log_2023");
  });
});

describe("DDL that makes a child is a write to the parent", () => {
  it.each([
    ["CREATE TABLE ... INHERITS", "CREATE TABLE mine () INHERITS (customers)"],
    ["CREATE TABLE ... PARTITION OF", "CREATE TABLE mine PARTITION OF internal.audit_log FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')"],
    ["ALTER TABLE ... INHERIT", "ALTER TABLE orders_by_month INHERIT customers"],
  ])("%s is refused", async (_name, sql) => {
    await refused(sql);
    expect(await direct("SELECT to_regclass('public.mine') IS NULL AS missing")).toEqual([{ missing: true }]);
  });
});

describe("the catalog's ancestors of a table", () => {
  it("nearest first, transitively, for inheritance and partitions alike, with each ancestor's columns", async () => {
    const upstream = {
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.users.scram.user,
      password: new Secret(db.users.scram.password, "test"),
      sslmode: "disable" as const,
      connect_timeout_ms: 5000,
    };
    const catalog = new Catalog(upstream, pino({ level: "silent" }), { listen: false });
    try {
      const pairs: [string, string][] = [
        ["public", "customers"],
        ["public", "customers_archive_2023"],
        ["public", "audit_log_2024_01"],
        ["public", "orders_and_customers"],
      ];
      await catalog.ensure(pairs);
      const of = (name: string) => catalog.relation("public", name)!.ancestors.map((a) => `${a.schema}.${a.name}`);
      expect(of("customers")).toEqual([]);
      expect(of("customers_archive_2023")).toEqual(["public.customers_archive", "public.customers"]);
      expect(of("audit_log_2024_01")).toEqual(["public.audit_log_2024", "internal.audit_log"]);
      expect(of("orders_and_customers").sort()).toEqual(["public.customers", "public.orders"]);
      const archive = catalog.relation("public", "customers_archive_2023")!;
      expect(archive.ancestors[0]!.columns).toContain("archived_at");
      expect(archive.ancestors[1]!.columns).not.toContain("archived_at");
      // The server's (table OID, attnum) of a result column names the column as itself and as each ancestor's.
      const [{ attnum }] = (await db.query(`SELECT attnum FROM pg_attribute WHERE attrelid = ${archive.oid} AND attname = 'ssn'`)) as { attnum: number }[];
      expect(catalog.column(archive.oid, attnum)).toEqual(["public.customers_archive_2023.ssn", "public.customers_archive.ssn", "public.customers.ssn"]);
    } finally {
      catalog.close();
    }
  });
});
