// The regate client scenario through sqlx (its own PostgreSQL protocol code, not tokio-postgres'): a query is
// prepared once per connection as a named statement (Parse sqlx_s_N + Describe statement + Sync) and cached,
// then run by Bind (every result column in binary) + Execute + Sync; `persistent(false)` uses the unnamed
// statement; `raw_sql` is one simple Query; COPY out through `copy_out_raw`.
//
//   sqlx-client URL          (or REGATE_URL)
//
// Inputs and output as for the tokio-postgres program beside it (../main.rs): EXPECT_NAMES, DENY_SQL, REGATE=1.
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};

const CLIENT: &str = "sqlx";
const SELECT3: &str = "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3";
const SELECT_BY_ID: &str = "SELECT id, full_name FROM public.customers WHERE id = $1";
const MASKED: &str = "SELECT id, email, ssn, card_number, phone FROM public.customers WHERE id < $1 ORDER BY id";
const COMPUTED: &str = "SELECT length(ssn), ssn::bytea, ARRAY[email], id FROM public.customers WHERE id = $1";

type Outcome = Result<Value, sqlx::Error>;

/// One binary-format value as JSON, by the type the statement's Describe gave its column.
fn value(row: &PgRow, i: usize) -> Result<Value, sqlx::Error> {
    let ty = row.columns()[i].type_info().name().to_string();
    Ok(match ty.as_str() {
        "INT4" => json!(row.try_get::<Option<i32>, _>(i)?),
        "INT8" => json!(row.try_get::<Option<i64>, _>(i)?),
        "TEXT" | "VARCHAR" | "NAME" => json!(row.try_get::<Option<String>, _>(i)?),
        "BYTEA" => json!(row.try_get::<Option<Vec<u8>>, _>(i)?.map(|b| format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()))),
        "TEXT[]" => json!(row.try_get::<Option<Vec<String>>, _>(i)?),
        _ => {
            let raw = row.try_get_raw(i)?;
            json!(if raw.is_null() { None } else { Some(format!("{ty}:{} bytes", raw.as_bytes().map(|b| b.len()).unwrap_or(0))) })
        }
    })
}

fn rows_json(rows: &[PgRow]) -> Result<Value, sqlx::Error> {
    Ok(Value::Array(rows.iter().map(|r| (0..r.len()).map(|i| value(r, i)).collect::<Result<Vec<_>, _>>().map(Value::Array)).collect::<Result<Vec<_>, _>>()?))
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned())
}

struct Scenario {
    expect_names: Option<Vec<String>>,
    failed: usize,
}

impl Scenario {
    fn report(&mut self, step: &str, ok: bool, mut extra: Map<String, Value>) -> bool {
        extra.insert("client".into(), json!(CLIENT));
        extra.insert("step".into(), json!(step));
        extra.insert("ok".into(), json!(ok));
        println!("{}", Value::Object(extra));
        if !ok {
            self.failed += 1;
        }
        ok
    }

    fn error_fields(e: &sqlx::Error) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = sqlstate(e) {
            m.insert("sqlstate".into(), json!(s));
        }
        m.insert("error".into(), json!(e.as_database_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())));
        m
    }

    fn ok(&mut self, step: &str, got: Outcome) -> bool {
        match got {
            Ok(v) => self.report(step, true, Map::from_iter([("rows".into(), v)])),
            Err(e) => self.report(step, false, Self::error_fields(&e)),
        }
    }

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

    fn ids(&mut self, step: &str, got: Result<Vec<PgRow>, sqlx::Error>, ids: &[i32]) -> bool {
        let rows = match got {
            Ok(r) => r,
            Err(e) => return self.report(step, false, Self::error_fields(&e)),
        };
        let mut out = Vec::new();
        let mut ok = rows.len() == ids.len();
        for (k, r) in rows.iter().enumerate() {
            let (id, name): (i32, String) = match (r.try_get(0), r.try_get(1)) {
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).or_else(|| std::env::var("REGATE_URL").ok()).unwrap_or_default();
    if url.is_empty() {
        eprintln!("usage: sqlx-client URL (or set REGATE_URL)");
        std::process::exit(2);
    }
    let expect_names = std::env::var("EXPECT_NAMES").ok().filter(|v| !v.is_empty()).map(|v| {
        serde_json::from_str::<Vec<String>>(&v).unwrap_or_else(|e| {
            eprintln!("EXPECT_NAMES is not a JSON list of strings: {e}");
            std::process::exit(2)
        })
    });
    let deny = std::env::var("DENY_SQL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "DELETE FROM public.orders".into());
    let regate = std::env::var("REGATE").as_deref() == Ok("1");
    let mut s = Scenario { expect_names, failed: 0 };
    let mut c = match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            s.report("connect", false, Scenario::error_fields(&e));
            std::process::exit(1);
        }
    };
    s.report("connect", true, Map::new());

    s.ids("select_rows", sqlx::query(SELECT3).fetch_all(&mut c).await, &[1, 2, 3]);
    s.ids("select_param", sqlx::query(SELECT_BY_ID).bind(2i32).fetch_all(&mut c).await, &[2]);
    let r = sqlx::query(&deny).execute(&mut c).await.map(|r| json!(r.rows_affected()));
    s.fails("deny", "42501", r);
    s.ids("after_deny", sqlx::query(SELECT_BY_ID).bind(1i32).fetch_all(&mut c).await, &[1]);
    let r = sqlx::raw_sql(&deny).execute(&mut c).await.map(|r| json!(r.rows_affected()));
    s.fails("deny_simple", "42501", r);
    s.ids("after_deny_simple", sqlx::query(SELECT3).fetch_all(&mut c).await, &[1, 2, 3]);
    match c.begin().await {
        Err(e) => {
            s.report("tx_begin", false, Scenario::error_fields(&e));
        }
        Ok(mut tx) => {
            s.ids("tx_select", sqlx::query(SELECT3).fetch_all(&mut *tx).await, &[1, 2, 3]);
            let r = sqlx::query(&deny).execute(&mut *tx).await.map(|r| json!(r.rows_affected()));
            s.fails("tx_deny", "42501", r);
            let r = sqlx::query(SELECT3).fetch_all(&mut *tx).await.map(|_| Value::Null);
            s.fails("tx_aborted", "25P02", r);
            let r = tx.rollback().await.map(|_| Value::Null);
            s.ok("tx_rollback", r);
        }
    }
    s.ids("after_rollback", sqlx::query(SELECT3).fetch_all(&mut c).await, &[1, 2, 3]);

    // Masked columns in binary results: the cached named statement run twice, and the unnamed one.
    for i in 0..2 {
        let r = async { rows_json(&sqlx::query(MASKED).bind(4i32).fetch_all(&mut c).await?) }.await;
        s.ok(&format!("masked_binary_{i}"), r);
    }
    let r = async { rows_json(&sqlx::query(MASKED).bind(4i32).persistent(false).fetch_all(&mut c).await?) }.await;
    s.ok("masked_unnamed", r);
    let r = async { rows_json(&sqlx::query(COMPUTED).bind(2i32).fetch_all(&mut c).await?) }.await;
    s.ok("masked_computed", r);
    let r = async { rows_json(&sqlx::query(COMPUTED).bind(2i32).persistent(false).fetch_all(&mut c).await?) }.await;
    s.ok("masked_computed_unnamed", r);
    // Rows streamed one at a time.
    let r = async {
        let mut stream = sqlx::query(MASKED).bind(4i32).fetch(&mut c);
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await {
            rows.push(row?);
        }
        drop(stream);
        rows_json(&rows)
    }
    .await;
    s.ok("masked_stream", r);
    let r = async { Ok(json!(sqlx::raw_sql("SELECT 1; SELECT 2").execute(&mut c).await?.rows_affected())) }.await;
    s.ok("raw_sql", r);

    // Last on this connection: after any failed copy_out_raw (the server's own error as well as regate's
    // refusal) sqlx 0.8.6 reads the next query's replies one ReadyForQuery late, against PostgreSQL directly too.
    let r = async {
        let mut stream = c.copy_out_raw("COPY (SELECT id, ssn FROM public.customers WHERE id < 4 ORDER BY id) TO STDOUT").await?;
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            text.extend_from_slice(&chunk?);
        }
        Ok(json!(String::from_utf8_lossy(&text)))
    }
    .await;
    if regate {
        s.fails("copy_out_masked", "42501", r);
    } else {
        s.ok("copy_out_masked", r);
    }
    let _ = c.close().await;
    std::process::exit(if s.failed > 0 { 1 } else { 0 });
}
