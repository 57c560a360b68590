// pgjdbc batches through regate: reWriteBatchedInserts (many rows become one multi-row INSERT, in chunks
// pipelined before one Sync) and Statement.executeBatch. Prints one line per step: "<mode> <step> <outcome>",
// the outcome being "ok", the SQLSTATE of the failure, or the value read. Driven by
// sidecar/test/clients/pgjdbc-batches.test.ts, which judges by what the database holds.
// Usage: java -cp <dir>:<pgjdbc jars> JdbcBatches <jdbc url> <user> <password>
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class JdbcBatches {
  interface Step {
    String run() throws SQLException;
  }

  static void step(String mode, String name, Step s) {
    String outcome;
    try {
      outcome = s.run();
    } catch (SQLException e) {
      outcome = e.getSQLState();
    }
    System.out.println(mode + " " + name + " " + outcome);
  }

  /** Rows of `sql` with (int, amount) parameters, `n` of them, as one batch. */
  static String insertBatch(Connection c, String sql, int n, String amount) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < n; i++) {
        ps.setInt(1, 1 + i);
        ps.setBigDecimal(2, new BigDecimal(amount));
        ps.addBatch();
      }
      ps.executeBatch();
      return "ok";
    }
  }

  public static void main(String[] args) throws Exception {
    String[][] modes = {{"extended", "44"}, {"simple", "45"}};
    for (String[] m : modes) {
      String mode = m[0];
      String p = m[1];
      Properties props = new Properties();
      props.setProperty("user", args[1]);
      props.setProperty("password", args[2]);
      props.setProperty("reWriteBatchedInserts", "true");
      props.setProperty("preferQueryMode", mode);
      try (Connection c = DriverManager.getConnection(args[0], props)) {
        String orders = "INSERT INTO orders (customer_id, amount, status, created_at) VALUES (?, ?, 'pending', now())";
        step(mode, "rewrite-orders", () -> insertBatch(c, orders, 5, p + "01.00"));
        step(mode, "rewrite-payments", () -> insertBatch(c, "INSERT INTO payments (order_id, amount, card_number, status) VALUES (?, ?, '4111111111111111', 'authorized')", 3, p + "02.00"));
        step(mode, "rewrite-stores-masked", () -> insertBatch(c, "INSERT INTO orders (customer_id, amount, status, created_at) VALUES (?, ?, (SELECT ssn FROM customers WHERE id = 2), now())", 3, p + "03.00"));
        step(mode, "statement-batch", () -> {
          try (Statement st = c.createStatement()) {
            st.addBatch("UPDATE orders SET amount = " + p + "04.00 WHERE id = " + p);
            st.addBatch("DELETE FROM orders");
            st.addBatch("UPDATE orders SET amount = " + p + "04.00 WHERE id = 1" + p);
            st.executeBatch();
            return "ok";
          }
        });
        step(mode, "transaction", () -> {
          c.setAutoCommit(false);
          try {
            insertBatch(c, orders, 3, p + "05.00");
            insertBatch(c, "INSERT INTO payments (order_id, amount, card_number, status) VALUES (?, ?, '4111111111111111', 'authorized')", 2, p + "05.00");
            c.commit();
            return "ok";
          } finally {
            c.rollback();
            c.setAutoCommit(true);
          }
        });
        // Past prepareThreshold (5): the last runs use a named server-side statement.
        step(mode, "masked-after", () -> {
          String got = null;
          try (PreparedStatement ps = c.prepareStatement("SELECT ssn FROM customers WHERE id = ?")) {
            for (int i = 0; i < 7; i++) {
              ps.setInt(1, 2);
              try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String v = rs.getString(1);
                if (got != null && !got.equals(v)) return "changed:" + got + "->" + v;
                got = v;
              }
            }
          }
          return got;
        });
      }
    }
  }
}
