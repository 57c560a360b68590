package regate.clients;

import io.r2dbc.postgresql.PostgresqlConnectionConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactory;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.postgresql.api.PostgresqlStatement;
import io.r2dbc.spi.R2dbcException;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Cursor;
import io.vertx.sqlclient.PreparedStatement;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.Tuple;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Vert.x's reactive PostgreSQL client and r2dbc-postgresql through regate. Prints one line per step:
 * "DRIVER STEP OUTCOME", the outcome being "ok [rows]" (each row as a list of its values, null as null) or
 * "ERR SQLSTATE message". Judged by sidecar/test/clients/reactive-drivers.test.ts, with the database.
 *
 *   ReactiveDrivers PORT DATABASE USER PASSWORD main|approval
 */
public final class ReactiveDrivers {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MASKED = "SELECT id, email, ssn, card_number, phone FROM public.customers WHERE id < $1 ORDER BY id";

  private interface Step {
    Object run() throws Exception;
  }

  private static void step(String driver, String name, Step s) {
    String outcome;
    try {
      outcome = "ok " + s.run();
    } catch (Throwable t) {
      outcome = error(t);
    }
    System.out.println(driver + " " + name + " " + outcome.replace('\n', ' '));
  }

  private static String error(Throwable t) {
    if (t instanceof ExecutionException e && e.getCause() != null) t = e.getCause();
    if (t instanceof PgException p) return "ERR " + p.getSqlState() + " " + p.getErrorMessage();
    if (t instanceof R2dbcException r) return "ERR " + r.getSqlState() + " " + r.getMessage();
    return "ERR " + t.getClass().getName() + " " + t.getMessage();
  }

  // ---- Vert.x ----

  private static <T> T get(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  private static List<List<Object>> rows(RowSet<Row> rs) {
    List<List<Object>> out = new ArrayList<>();
    for (Row r : rs) out.add(values(r));
    return out;
  }

  private static List<Object> values(Row r) {
    List<Object> l = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) l.add(r.getValue(i));
    return l;
  }

  /** Every future's outcome, in order, each as a step of its own. */
  private static void outcomes(String driver, String name, List<io.vertx.core.Future<RowSet<Row>>> fs) {
    for (int i = 0; i < fs.size(); i++) {
      io.vertx.core.Future<RowSet<Row>> f = fs.get(i);
      step(driver, name + "_" + i, () -> rows(get(f)));
    }
  }

  private static void vertxMain(Vertx vertx, PgConnectOptions o) throws Exception {
    String v = "vertx";
    PgConnection c = get(PgConnection.connect(vertx, o));
    // the scenario every client runs, simple (query) and extended (preparedQuery)
    step(v, "select_rows", () -> rows(get(c.query("SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3").execute())));
    step(v, "select_param", () -> rows(get(c.preparedQuery("SELECT id, full_name FROM public.customers WHERE id = $1").execute(Tuple.of(2)))));
    step(v, "deny", () -> rows(get(c.query("DELETE FROM public.orders").execute())));
    step(v, "deny_extended", () -> rows(get(c.preparedQuery("DELETE FROM public.orders").execute())));
    step(v, "after_deny", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    step(v, "tx_begin", () -> rows(get(c.query("BEGIN").execute())));
    step(v, "tx_select", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    step(v, "tx_deny", () -> rows(get(c.preparedQuery("DELETE FROM public.orders").execute())));
    step(v, "tx_aborted", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    step(v, "tx_rollback", () -> rows(get(c.query("ROLLBACK").execute())));
    step(v, "after_rollback", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    // masked columns: text results (simple query), binary results (extended), a cursor and a stream by 2 rows
    step(v, "masked_text", () -> rows(get(c.query(MASKED.replace("$1", "4")).execute())));
    step(v, "masked_binary", () -> rows(get(c.preparedQuery(MASKED).execute(Tuple.of(4)))));
    step(v, "masked_computed", () -> rows(get(c.preparedQuery("SELECT length(ssn), ssn::bytea, ARRAY[email], id FROM public.customers WHERE id = $1").execute(Tuple.of(2)))));
    step(v, "masked_cursor", () -> {
      get(c.query("BEGIN").execute());
      PreparedStatement ps = get(c.prepare(MASKED));
      Cursor cur = ps.cursor(Tuple.of(6));
      List<List<Object>> out = new ArrayList<>();
      do out.addAll(rows(get(cur.read(2)))); while (cur.hasMore());
      get(cur.close());
      get(c.query("COMMIT").execute());
      return out;
    });
    step(v, "masked_stream", () -> {
      get(c.query("BEGIN").execute());
      PreparedStatement ps = get(c.prepare(MASKED));
      CompletableFuture<List<List<Object>>> done = new CompletableFuture<>();
      List<List<Object>> out = new ArrayList<>();
      RowStream<Row> stream = ps.createStream(2, Tuple.of(6));
      stream.exceptionHandler(done::completeExceptionally).endHandler(x -> done.complete(out)).handler(r -> out.add(values(r)));
      List<List<Object>> got = done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      get(c.query("COMMIT").execute());
      return got;
    });
    // pipelined, each with its own Sync, all sent before the first answer: the refused one between allowed ones
    outcomes(v, "pipeline", List.of(
        c.preparedQuery("SELECT email FROM public.customers WHERE id = $1").execute(Tuple.of(2)),
        c.preparedQuery("DELETE FROM public.orders").execute(),
        c.preparedQuery("UPDATE public.orders SET amount = $1 WHERE id = $2").execute(Tuple.of(new BigDecimal("61001"), 61)),
        c.query("SELECT ssn FROM public.customers WHERE id = 2").execute(),
        c.preparedQuery("UPDATE public.payments SET amount = $1 WHERE id = $2").execute(Tuple.of(new BigDecimal("61002"), 61)),
        c.preparedQuery("SELECT card_number FROM public.customers WHERE id = $1").execute(Tuple.of(2))));
    // prepared batches: every row's Bind/Execute before one Sync
    step(v, "batch_orders", () -> get(c.preparedQuery("UPDATE public.orders SET amount = $1 WHERE id = $2")
        .executeBatch(List.of(Tuple.of(new BigDecimal("62001"), 62), Tuple.of(new BigDecimal("62001"), 63)))).rowCount());
    step(v, "batch_payments", () -> get(c.preparedQuery("UPDATE public.payments SET amount = $1 WHERE id = $2")
        .executeBatch(List.of(Tuple.of(new BigDecimal("62002"), 62), Tuple.of(new BigDecimal("62002"), 63)))).rowCount());
    step(v, "after_batch", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    get(c.close());
  }

  private static void vertxApproval(Vertx vertx, PgConnectOptions o) throws Exception {
    String v = "vertx";
    PgConnection c = get(PgConnection.connect(vertx, o));
    outcomes(v, "approval_pipeline", List.of(
        c.preparedQuery("UPDATE public.orders SET amount = $1 WHERE id = $2").execute(Tuple.of(new BigDecimal("63001"), 64)),
        c.preparedQuery("UPDATE public.payments SET amount = $1 WHERE id = $2").execute(Tuple.of(new BigDecimal("63002"), 64)),
        c.preparedQuery("SELECT email FROM public.customers WHERE id = $1").execute(Tuple.of(2)),
        c.preparedQuery("UPDATE public.orders SET amount = $1 WHERE id = $2").execute(Tuple.of(new BigDecimal("63003"), 65))));
    step(v, "approval_batch", () -> get(c.preparedQuery("UPDATE public.payments SET amount = $1 WHERE id = $2")
        .executeBatch(List.of(Tuple.of(new BigDecimal("63004"), 66), Tuple.of(new BigDecimal("63004"), 67)))).rowCount());
    step(v, "after_approval", () -> rows(get(c.preparedQuery("SELECT 42").execute())));
    get(c.close());
  }

  // ---- r2dbc ----

  private static PostgresqlStatement bind(PostgresqlConnection c, String sql, Object... params) {
    PostgresqlStatement s = c.createStatement(sql);
    for (int i = 0; i < params.length; i++) s.bind(i, params[i]);
    return s;
  }

  private static Mono<List<List<Object>>> rows(PostgresqlStatement s) {
    return s.execute().flatMap(r -> r.map((row, md) -> {
      List<Object> l = new ArrayList<>();
      for (int i = 0; i < md.getColumnMetadatas().size(); i++) l.add(row.get(i));
      return l;
    })).collectList();
  }

  private static List<List<Object>> q(PostgresqlConnection c, String sql, Object... params) {
    return rows(bind(c, sql, params)).block(WAIT);
  }

  private static List<Long> updated(PostgresqlStatement s) {
    return s.execute().flatMap(r -> r.getRowsUpdated()).collectList().block(WAIT);
  }

  private static void r2dbc(String driver, PostgresqlConnectionFactory f, boolean approval) {
    PostgresqlConnection c = f.create().block(WAIT);
    int base = driver.endsWith("binary") ? 100 : 0;
    if (approval) {
      step(driver, "approval", () -> updated(bind(c, "UPDATE public.payments SET amount = $1 WHERE id = $2", new BigDecimal("64001"), 70 + base)));
      step(driver, "after_approval", () -> q(c, "SELECT 42"));
      c.close().block(WAIT);
      return;
    }
    step(driver, "select_rows", () -> q(c, "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3"));
    step(driver, "select_param", () -> q(c, "SELECT id, full_name FROM public.customers WHERE id = $1", 2));
    step(driver, "deny", () -> q(c, "DELETE FROM public.orders"));
    step(driver, "after_deny", () -> q(c, "SELECT 42"));
    step(driver, "tx_begin", () -> c.beginTransaction().then(Mono.just("begun")).block(WAIT));
    step(driver, "tx_select", () -> q(c, "SELECT 42"));
    step(driver, "tx_deny", () -> q(c, "DELETE FROM public.orders"));
    step(driver, "tx_aborted", () -> q(c, "SELECT 42"));
    step(driver, "tx_rollback", () -> c.rollbackTransaction().then(Mono.just("rolled back")).block(WAIT));
    step(driver, "after_rollback", () -> q(c, "SELECT 42"));
    step(driver, "masked", () -> q(c, MASKED, 4));
    // Execute with a row limit of 2: PortalSuspended and Execute again until the portal is done
    step(driver, "masked_fetch", () -> rows(bind(c, MASKED, 6).fetchSize(2)).block(WAIT));
    step(driver, "masked_computed", () -> q(c, "SELECT length(ssn), ssn::bytea, ARRAY[email], id FROM public.customers WHERE id = $1", 2));
    // one statement with two bindings: each its own Bind/Execute
    step(driver, "batch_orders", () -> updated(bind(c, "UPDATE public.orders SET amount = $1 WHERE id = $2", new BigDecimal("65001"), 72 + base).add()
        .bind(0, new BigDecimal("65001")).bind(1, 73 + base)));
    step(driver, "batch_payments", () -> updated(bind(c, "UPDATE public.payments SET amount = $1 WHERE id = $2", new BigDecimal("65002"), 72 + base).add()
        .bind(0, new BigDecimal("65002")).bind(1, 73 + base)));
    // several statements in one simple Query: refused as one
    step(driver, "batch_simple", () -> Flux.from(c.createBatch().add("UPDATE public.orders SET amount = 65003 WHERE id = " + (74 + base))
        .add("DELETE FROM public.orders").add("UPDATE public.orders SET amount = 65003 WHERE id = " + (75 + base)).execute())
        .flatMap(r -> r.getRowsUpdated()).collectList().block(WAIT));
    // subscribed together: r2dbc queues them on the connection behind each other
    step(driver, "merged", () -> Flux.merge(
        rows(bind(c, "SELECT email FROM public.customers WHERE id < $1 ORDER BY id", 4).fetchSize(1)).map(Object::toString),
        rows(bind(c, "DELETE FROM public.orders")).map(Object::toString).onErrorResume(e -> Mono.just(error(e))),
        rows(bind(c, "UPDATE public.orders SET amount = $1 WHERE id = $2 RETURNING id", new BigDecimal("65004"), 76 + base)).map(Object::toString))
        .collectList().block(WAIT));
    step(driver, "after_batch", () -> q(c, "SELECT 42"));
    c.close().block(WAIT);
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println("usage: ReactiveDrivers PORT DATABASE USER PASSWORD main|approval");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    boolean approval = args[4].equals("approval");
    Vertx vertx = Vertx.vertx();
    try {
      PgConnectOptions o = new PgConnectOptions().setHost("127.0.0.1").setPort(port).setDatabase(args[1]).setUser(args[2])
          .setPassword(args[3]).setPipeliningLimit(64);
      try {
        if (approval) vertxApproval(vertx, o);
        else vertxMain(vertx, o);
      } catch (Exception e) {
        System.out.println("vertx connect " + error(e));
      }
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    for (boolean binary : new boolean[] {false, true}) {
      String driver = binary ? "r2dbc-binary" : "r2dbc-text";
      try {
        r2dbc(driver, new PostgresqlConnectionFactory(PostgresqlConnectionConfiguration.builder().host("127.0.0.1").port(port)
            .database(args[1]).username(args[2]).password(args[3]).forceBinary(binary).build()), approval);
      } catch (Exception e) {
        System.out.println(driver + " connect " + error(e));
      }
    }
    System.exit(0);
  }
}
