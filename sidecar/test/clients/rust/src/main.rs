// The regate client scenario through tokio-postgres, plus what that driver does on the wire of its own:
// `prepare` is Parse (named s0, s1, ...) + Describe statement + Sync, then Bind asking for every result column
// in binary + Execute + Sync with no Describe of the portal (rows are read by the statement's Describe);
// `query_typed` is the unnamed statement with Parse + Bind + Describe portal + Execute + Sync at once; a dropped
// statement is Close + Sync; `simple_query` / `batch_execute` are simple Query; a transaction's `bind` +
// `query_portal` are a named portal executed with a row limit; `copy_in` / `copy_out`; futures joined on one
// connection pipeline their messages; `cancel_token().cancel_query(NoTls)` opens a second connection.
//
//   tokio-postgres-client URL          (or REGATE_URL)
//
// Inputs as for every client script (see ../README.md): EXPECT_NAMES, DENY_SQL. REGATE=1 says a policy sidecar
// with the example policy is in front (COPY out of customers is then expected to be refused). One JSON line per
// step on stdout; exit status 1 when any step failed, 2 for bad usage.
use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{future, pin_mut, SinkExt, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{Client, Error, NoTls, Row, SimpleQueryMessage};

const CLIENT: &str = "tokio-postgres";
const SELECT3: &str = "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3";
const SELECT_BY_ID: &str = "SELECT id, full_name FROM public.customers WHERE id = $1";
const MASKED: &str = "SELECT id, email, ssn, card_number, phone FROM public.customers WHERE id < $1 ORDER BY id";
const COMPUTED: &str = "SELECT length(ssn), ssn::bytea, ARRAY[email], id FROM public.customers WHERE id = $1";
const DENIED: &str = "42501";
const IN_FAILED_TX: &str = "25P02";
const CANCELED: &str = "57014";

/// Any value in whatever format it came, for columns whose type the scenario does not fix.
struct Raw(Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(Some(raw.to_vec())))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One binary-format value as JSON, by the type the statement's Describe gave its column.
fn value(row: &Row, i: usize) -> Result<Value, Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT2 => json!(row.try_get::<_, Option<i16>>(i)?),
        Type::INT4 => json!(row.try_get::<_, Option<i32>>(i)?),
        Type::INT8 => json!(row.try_get::<_, Option<i64>>(i)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => json!(row.try_get::<_, Option<String>>(i)?),
        Type::BYTEA => json!(row.try_get::<_, Option<Vec<u8>>>(i)?.map(|b| format!("\\x{}", hex(&b)))),
        Type::TEXT_ARRAY => json!(row.try_get::<_, Option<Vec<Option<String>>>>(i)?),
        _ => json!(row.try_get::<_, Raw>(i)?.0.map(|b| format!("{}:{}", ty.name(), hex(&b)))),
    })
}

fn rows_json(rows: &[Row]) -> Result<Vec<Value>, Error> {
    rows.iter().map(|r| (0..r.len()).map(|i| value(r, i)).collect::<Result<Vec<_>, _>>().map(Value::Array)).collect()
}

fn simple_rows(messages: &[SimpleQueryMessage]) -> Vec<Value> {
    let mut out = Vec::new();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => out.push(Value::Array((0..r.len()).map(|i| json!(r.get(i))).collect())),
            SimpleQueryMessage::CommandComplete(n) => out.push(json!(format!("complete {n}"))),
            _ => {}
        }
    }
    out
}

fn sqlstate(e: &Error) -> Option<String> {
    e.code().map(|c| c.code().to_string())
}

fn message(e: &Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => format!("{e}"),
    }
}

/// What one call gave: rows (or a command's outcome) or an error.
type Outcome = Result<Value, Error>;

struct Scenario {
    deny_sql: String,
    expect_names: Option<Vec<String>>,
    regate: bool,
    failed: usize,
}

impl Scenario {
    fn report(&mut self, step: &str, ok: bool, extra: Map<String, Value>) -> bool {
        let mut line = Map::new();
        line.insert("client".into(), json!(CLIENT));
        line.insert("step".into(), json!(step));
        line.insert("ok".into(), json!(ok));
        line.extend(extra);
        println!("{}", Value::Object(line));
        if !ok {
            self.failed += 1;
        }
        ok
    }

    fn error_fields(e: &Error) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = sqlstate(e) {
            m.insert("sqlstate".into(), json!(s));
        }
        m.insert("error".into(), json!(message(e)));
        m
    }

    /// A step that must succeed; its rows (or result) are reported for the test to judge.
    fn ok(&mut self, step: &str, got: Outcome) -> bool {
        match got {
            Ok(v) => self.report(step, true, Map::from_iter([("rows".into(), v)])),
            Err(e) => self.report(step, false, Self::error_fields(&e)),
        }
    }

    /// A step that must fail with `expected`.
    fn fails(&mut self, step: &str, expected: &str, got: Outcome) -> bool {
        let mut m = Map::from_iter([("expected_sqlstate".into(), json!(expected))]);
        match got {
            Ok(v) => {
                m.insert("rows".into(), v);
                m.insert("error".into(), json!("no error"));
                self.report(step, false, m)
            }
            Err(e) => {
                let ok = sqlstate(&e).as_deref() == Some(expected);
                m.extend(Self::error_fields(&e));
                self.report(step, ok, m)
            }
        }
    }

    /// A step giving (id, full_name) rows that must be exactly `ids` (and EXPECT_NAMES when given).
    fn ids(&mut self, step: &str, got: Result<Vec<Row>, Error>, ids: &[i32]) -> bool {
        let rows = match got {
            Ok(r) => r,
            Err(e) => return self.report(step, false, Self::error_fields(&e)),
        };
        let mut out = Vec::new();
        let mut ok = rows.len() == ids.len();
        for (k, r) in rows.iter().enumerate() {
            let (id, name) = match (r.try_get::<_, i32>(0), r.try_get::<_, String>(1)) {
                (Ok(id), Ok(name)) => (id, name),
                (Err(e), _) | (_, Err(e)) => return self.report(step, false, Self::error_fields(&e)),
            };
            ok = ok && ids.get(k) == Some(&id);
            if let Some(names) = &self.expect_names {
                ok = ok && id >= 1 && names.get(id as usize - 1) == Some(&name);
            }
            out.push(json!([id, name]));
        }
        self.report(step, ok, Map::from_iter([("rows".into(), json!(out)), ("expected_ids".into(), json!(ids))]))
    }
}

async fn rows_of(c: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Outcome {
    let rows = c.query(sql, params).await?;
    Ok(Value::Array(rows_json(&rows)?))
}

async fn executed(c: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Outcome {
    Ok(json!(c.execute(sql, params).await?))
}

async fn connect(url: &str) -> Result<Client, Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection ended: {e}");
        }
    });
    Ok(client)
}

async fn common(s: &mut Scenario, c: &mut Client) {
    let deny = s.deny_sql.clone();
    s.ids("select_rows", c.query(SELECT3, &[]).await, &[1, 2, 3]);
    s.ids("select_param", c.query(SELECT_BY_ID, &[&2i32]).await, &[2]);
    // execute() prepares first: Parse + Describe statement + Sync, then Bind + Execute + Sync
    s.fails("deny", DENIED, executed(c, &deny, &[]).await);
    s.ids("after_deny", c.query(SELECT_BY_ID, &[&1i32]).await, &[1]);
    s.fails("deny_simple", DENIED, c.batch_execute(&deny).await.map(|_| Value::Null));
    s.ids("after_deny_simple", c.query(SELECT3, &[]).await, &[1, 2, 3]);
    match c.transaction().await {
        Err(e) => {
            s.report("tx_begin", false, Scenario::error_fields(&e));
        }
        Ok(tx) => {
            s.ids("tx_select", tx.query(SELECT3, &[]).await, &[1, 2, 3]);
            s.fails("tx_deny", DENIED, tx.execute(deny.as_str(), &[]).await.map(|n| json!(n)));
            s.fails("tx_aborted", IN_FAILED_TX, tx.query(SELECT3, &[]).await.map(|_| Value::Null));
            let r = tx.rollback().await.map(|_| Value::Null);
            s.ok("tx_rollback", r);
        }
    }
    s.ids("after_rollback", c.query(SELECT3, &[]).await, &[1, 2, 3]);
}

async fn masking(s: &mut Scenario, c: &Client) {
    // Binary results for every column, read by the types the statement's Describe gave.
    s.ok("masked_binary", rows_of(c, MASKED, &[&4i32]).await);
    s.ok("masked_computed", rows_of(c, COMPUTED, &[&2i32]).await);
    // The unnamed statement, Parse + Bind + Describe portal + Execute + Sync in one go.
    let typed = async { Ok(Value::Array(rows_json(&c.query_typed(MASKED, &[(&4i32, Type::INT4)]).await?)?)) }.await;
    s.ok("masked_typed", typed);
    // A statement prepared once and bound again and again, as an application holding it would.
    match c.prepare(MASKED).await {
        Err(e) => {
            s.report("masked_prepared", false, Scenario::error_fields(&e));
        }
        Ok(st) => {
            let types: Vec<Value> = st.columns().iter().map(|col| json!(col.type_().name())).collect();
            s.report("masked_prepared", true, Map::from_iter([("types".into(), json!(types))]));
            for i in 0..3 {
                let got = async { Ok(Value::Array(rows_json(&c.query(&st, &[&3i32]).await?)?)) }.await;
                s.ok(&format!("masked_prepared_{i}"), got);
            }
        }
    }
    // query_raw: rows streamed as they come.
    let streamed = async {
        let stream = c.query_raw(MASKED, [4i32]).await?;
        let rows: Vec<Row> = stream.try_collect().await?;
        Ok(Value::Array(rows_json(&rows)?))
    }
    .await;
    s.ok("masked_raw", streamed);
    // query_typed's Describe is of the statement, after the Bind: the column types it reads the rows by.
    let typed = async {
        let rows = c.query_typed(COMPUTED, &[(&2i32, Type::INT4)]).await?;
        let types: Vec<Value> = rows.first().map(|r| r.columns().iter().map(|col| json!(col.type_().name())).collect()).unwrap_or_default();
        Ok(json!({"types": types, "rows": rows_json(&rows)?}))
    }
    .await;
    s.ok("masked_computed_typed", typed);
    // A whole row of the masked table: a composite type of the database's own, which tokio-postgres looks up
    // in pg_type and pg_attribute (statements of its own) before it can read the result.
    s.ok("masked_whole_row", rows_of(c, "SELECT c, c.id FROM public.customers c WHERE c.id = $1", &[&2i32]).await);
    s.ok("after_whole_row", rows_of(c, "SELECT 42", &[]).await);
    let deny = s.deny_sql.clone();
    s.fails("deny_typed", DENIED, async { Ok(json!(c.execute_typed(&deny, &[]).await?)) }.await);
    s.ok("after_deny_typed", rows_of(c, "SELECT 42", &[]).await);
}

async fn pipelining(s: &mut Scenario, c: &Client) {
    let deny = s.deny_sql.clone();
    // Five statements at once on one connection: their Parse/Describe/Sync go out together, then their
    // Bind/Execute/Sync as each Describe comes back. The refused one must fail alone.
    let (a, b, d, e, f) = tokio::join!(
        rows_of(c, "SELECT email FROM public.customers WHERE id = $1", &[&2i32]),
        executed(c, &deny, &[]),
        rows_of(c, "SELECT ssn, length(ssn) FROM public.customers WHERE id = $1", &[&2i32]),
        executed(c, "UPDATE public.orders SET amount = $1::int4 WHERE id = $2", &[&91001i32, &91i32]),
        rows_of(c, "SELECT card_number, id FROM public.customers WHERE id = $1", &[&2i32]),
    );
    s.ok("pipeline_0", a);
    s.fails("pipeline_1", DENIED, b);
    s.ok("pipeline_2", d);
    s.ok("pipeline_3", e);
    s.ok("pipeline_4", f);
    // The same with statements prepared beforehand: only Bind/Execute/Sync go out, interleaved.
    let prepared = future::try_join3(
        c.prepare("SELECT email FROM public.customers WHERE id = $1"),
        c.prepare("SELECT phone, id FROM public.customers WHERE id = $1"),
        c.prepare("UPDATE public.orders SET amount = $1::int4 WHERE id = $2"),
    )
    .await;
    match prepared {
        Err(e) => {
            s.report("pipeline_prepare", false, Scenario::error_fields(&e));
        }
        Ok((p0, p1, p2)) => {
            let all = future::join_all((1..=3).map(|id| {
                let (p0, p1, p2, deny) = (&p0, &p1, &p2, &deny);
                let (amount, order) = (92000 + id, 91 + id);
                async move {
                    let (email, denied, phone, update) = tokio::join!(
                        async { Ok::<_, Error>(Value::Array(rows_json(&c.query(p0, &[&id]).await?)?)) },
                        c.batch_execute(deny),
                        async { Ok::<_, Error>(Value::Array(rows_json(&c.query(p1, &[&id]).await?)?)) },
                        async { c.execute(p2, &[&amount, &order]).await },
                    );
                    (email, denied.map(|_| Value::Null), phone, update.map(|n| json!(n)))
                }
            }))
            .await;
            for (k, (email, denied, phone, update)) in all.into_iter().enumerate() {
                let id = k + 1;
                s.ok(&format!("pipeline_prepared_{id}_email"), email);
                s.fails(&format!("pipeline_prepared_{id}_deny"), DENIED, denied);
                s.ok(&format!("pipeline_prepared_{id}_phone"), phone);
                s.ok(&format!("pipeline_prepared_{id}_update"), update);
            }
        }
    }
    // query_typed pipelined: each its own Parse + Bind + Describe statement + Execute + Sync of the unnamed
    // statement, one after the other before any reply; the refused one among them fails alone.
    let typed = |sql: &'static str| async move {
        let rows = c.query_typed(sql, &[(&2i32, Type::INT4)]).await?;
        Ok::<_, Error>(Value::Array(rows_json(&rows)?))
    };
    let (x, y, z) = tokio::join!(
        typed(COMPUTED),
        async { Ok::<_, Error>(json!(c.execute_typed(&deny, &[]).await?)) },
        typed("SELECT c, c.id FROM public.customers c WHERE c.id = $1"),
    );
    s.ok("pipeline_typed_0", x);
    s.fails("pipeline_typed_1", DENIED, y);
    s.ok("pipeline_typed_2", z);
    s.ok("after_pipeline", rows_of(c, "SELECT 42", &[]).await);
}

async fn portals(s: &mut Scenario, c: &mut Client) {
    let deny = s.deny_sql.clone();
    // A named portal over the masked table read 2 rows at a time: Execute with a row limit, PortalSuspended.
    let mut tx = match c.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            s.report("portal_begin", false, Scenario::error_fields(&e));
            return;
        }
    };
    let got = async {
        let st = tx.prepare(MASKED).await?;
        let portal = tx.bind(&st, &[&6i32]).await?;
        let mut pages = Vec::new();
        loop {
            let page = tx.query_portal(&portal, 2).await?;
            if page.is_empty() {
                break;
            }
            pages.push(Value::Array(rows_json(&page)?));
        }
        Ok(Value::Array(pages))
    }
    .await;
    s.ok("portal_pages", got);
    // The same through query_portal_raw with a row limit of 1, and a second portal open at the same time.
    let interleaved = async {
        let st = tx.prepare(MASKED).await?;
        let (p1, p2) = (tx.bind(&st, &[&3i32]).await?, tx.bind(&st, &[&4i32]).await?);
        let mut out = Vec::new();
        for _ in 0..3 {
            let a: Vec<Row> = tx.query_portal_raw(&p1, 1).await?.try_collect().await?;
            let b: Vec<Row> = tx.query_portal_raw(&p2, 1).await?.try_collect().await?;
            out.push(json!([rows_json(&a)?, rows_json(&b)?]));
        }
        Ok(Value::Array(out))
    }
    .await;
    s.ok("portal_interleaved", interleaved);
    // A nested transaction is a savepoint: a refusal inside it is rolled back to the savepoint, and the outer
    // transaction goes on and commits its write.
    let nested = async {
        let inner = tx.transaction().await?;
        let refused = inner.execute(deny.as_str(), &[]).await;
        inner.rollback().await?;
        Ok(json!([refused.err().map(|e| sqlstate(&e)), tx.execute("UPDATE public.orders SET amount = $1::int4 WHERE id = $2", &[&94001i32, &95i32]).await?]))
    }
    .await;
    s.ok("savepoint", nested);
    let r = tx.commit().await.map(|_| Value::Null);
    s.ok("portal_commit", r);
}

async fn simple_and_copy(s: &mut Scenario, c: &Client) {
    let deny = s.deny_sql.clone();
    let simple = c.simple_query("SELECT id, email, ssn, card_number FROM public.customers WHERE id < 4 ORDER BY id; SELECT 42").await;
    s.ok("simple_query", simple.map(|m| Value::Array(simple_rows(&m))));
    s.fails("simple_query_deny", DENIED, c.simple_query(&format!("SELECT 1; {deny}; SELECT 2")).await.map(|m| Value::Array(simple_rows(&m))));
    s.ok("after_simple_deny", rows_of(c, "SELECT 42", &[]).await);
    let batch = c.batch_execute("UPDATE public.orders SET amount = 93001 WHERE id = 96; UPDATE public.orders SET amount = 93002 WHERE id = 97").await;
    s.ok("batch_execute", batch.map(|_| Value::Null));
    let refused = c.batch_execute(&format!("UPDATE public.orders SET amount = 93003 WHERE id = 98; {deny}; UPDATE public.orders SET amount = 93004 WHERE id = 99")).await;
    s.fails("batch_execute_deny", DENIED, refused.map(|_| Value::Null));
    let payments = executed(c, "UPDATE public.payments SET amount = $1::int4 WHERE id = $2", &[&93005i32, &96i32]).await;
    if s.regate {
        s.fails("write_payments", DENIED, payments);
    } else {
        s.ok("write_payments", payments);
    }

    let copy_out = |sql: &'static str| async move {
        let stream = c.copy_out(sql).await?;
        pin_mut!(stream);
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            text.extend_from_slice(&chunk?);
        }
        Ok(json!(String::from_utf8_lossy(&text)))
    };
    let masked = copy_out("COPY (SELECT id, ssn FROM public.customers WHERE id < 4 ORDER BY id) TO STDOUT").await;
    if s.regate {
        s.fails("copy_out_masked", DENIED, masked);
    } else {
        s.ok("copy_out_masked", masked);
    }
    s.ok("copy_out_unmasked", copy_out("COPY (SELECT id, full_name FROM public.customers WHERE id < 4 ORDER BY id) TO STDOUT").await);
    let copy_in = async {
        let sink = c.copy_in("COPY public.orders (customer_id, amount, status, created_at) FROM STDIN").await?;
        pin_mut!(sink);
        sink.send(Bytes::from_static(b"1\t9494.94\tpending\t2026-01-01\n2\t9494.94\tpaid\t2026-01-02\n")).await?;
        Ok(json!(sink.finish().await?))
    }
    .await;
    s.ok("copy_in", copy_in);
    let copy_in_masked = async {
        let sink = c.copy_in("COPY public.customers (full_name, email, created_at) FROM STDIN").await?;
        pin_mut!(sink);
        sink.send(Bytes::from_static(b"Eve\teve.9494@example.com\t2026-01-01\n")).await?;
        Ok(json!(sink.finish().await?))
    }
    .await;
    if s.regate {
        s.fails("copy_in_masked", DENIED, copy_in_masked);
    } else {
        s.ok("copy_in_masked", copy_in_masked);
    }
    s.ok("after_copy", rows_of(c, "SELECT 42", &[]).await);
}

async fn cancel(s: &mut Scenario, c: &Client) {
    // The cancel request goes on a connection of its own with the key the session was given; it is sent again
    // until the sleep ends, since one sent before the query reached the server cancels nothing.
    let token = c.cancel_token();
    let sleeping = c.query("SELECT pg_sleep(60)", &[]);
    pin_mut!(sleeping);
    let mut sent = 0;
    let result = loop {
        tokio::select! {
            r = &mut sleeping => break r,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if let Err(e) = token.cancel_query(NoTls).await {
                    s.report("cancel_request", false, Scenario::error_fields(&e));
                }
                sent += 1;
            }
        }
    };
    let mut m = Map::from_iter([("cancel_requests".into(), json!(sent)), ("expected_sqlstate".into(), json!(CANCELED))]);
    match result {
        Ok(_) => {
            m.insert("error".into(), json!("no error"));
            s.report("cancel", false, m);
        }
        Err(e) => {
            let ok = sqlstate(&e).as_deref() == Some(CANCELED);
            m.extend(Scenario::error_fields(&e));
            s.report("cancel", ok, m);
        }
    }
    s.ok("after_cancel", rows_of(c, "SELECT 42", &[]).await);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).or_else(|| std::env::var("REGATE_URL").ok()).unwrap_or_default();
    if url.is_empty() {
        eprintln!("usage: tokio-postgres-client URL (or set REGATE_URL)");
        std::process::exit(2);
    }
    let expect_names = match std::env::var("EXPECT_NAMES") {
        Ok(v) if !v.is_empty() => match serde_json::from_str::<Vec<String>>(&v) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("EXPECT_NAMES is not a JSON list of strings: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let mut s = Scenario {
        deny_sql: std::env::var("DENY_SQL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "DELETE FROM public.orders".into()),
        expect_names,
        regate: std::env::var("REGATE").as_deref() == Ok("1"),
        failed: 0,
    };
    let mut c = match connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            s.report("connect", false, Scenario::error_fields(&e));
            std::process::exit(1);
        }
    };
    s.report("connect", true, Map::new());
    common(&mut s, &mut c).await;
    masking(&mut s, &c).await;
    pipelining(&mut s, &c).await;
    portals(&mut s, &mut c).await;
    simple_and_copy(&mut s, &c).await;
    cancel(&mut s, &c).await;
    s.report("connection_open", !c.is_closed(), Map::new());
    std::process::exit(if s.failed > 0 { 1 } else { 0 });
}
