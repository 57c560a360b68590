// pgjdbc under rows_changed_per_transaction: autocommit statements, blocks that pgjdbc opens with a BEGIN in the
// batch of their first statement (autoCommit=false), executeBatch and reWriteBatchedInserts. Prints one line per
// step: "<mode> <step> <outcome>", the outcome being "ok", the SQLSTATE of the failure, or the value read.
// Driven by sidecar/test/clients/pgjdbc-rows-changed.test.ts, which judges by what the database holds.
// Usage: java -cp <dir>:<pgjdbc jars> JdbcRowsChanged <jdbc url> <user> <password>
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class JdbcRowsChanged {
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

  /** UPDATE orders SET amount = `amount` for ids in [from, to], as a prepared statement. */
  static String update(Connection c, String amount, int from, int to) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE orders SET amount = " + amount + " WHERE id >= ? AND id <= ?")) {
      ps.setInt(1, from);
      ps.setInt(2, to);
      return "ok " + ps.executeUpdate();
    }
  }

  public static void main(String[] args) throws Exception {
    String[][] modes = {{"extended", "61", "0"}, {"simple", "62", "100"}};
    for (String[] m : modes) {
      String mode = m[0];
      String p = m[1];
      // Each mode changes orders of its own.
      int o = Integer.parseInt(m[2]);
      Properties props = new Properties();
      props.setProperty("user", args[1]);
      props.setProperty("password", args[2]);
      props.setProperty("reWriteBatchedInserts", "true");
      props.setProperty("preferQueryMode", mode);
      try (Connection c = DriverManager.getConnection(args[0], props)) {
        // Autocommit: every order, with a WHERE that restricts nothing.
        step(mode, "autocommit-all", () -> {
          try (Statement st = c.createStatement()) {
            return "ok " + st.executeUpdate("UPDATE orders SET amount = " + p + "01.00 WHERE id > -1");
          }
        });
        step(mode, "autocommit-few", () -> update(c, p + "02.00", o + 1, o + 3));
        // A block: 3 rows, then 3 more (6 > 5); the block is aborted, pgjdbc rolls back.
        c.setAutoCommit(false);
        step(mode, "block-first", () -> update(c, p + "03.00", o + 11, o + 13));
        step(mode, "block-second", () -> update(c, p + "03.00", o + 14, o + 16));
        step(mode, "block-after", () -> {
          try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
            rs.next();
            return "ok";
          }
        });
        c.rollback();
        // A block within the bound commits.
        step(mode, "block-commit", () -> {
          String r = update(c, p + "04.00", o + 21, o + 22) + "," + update(c, p + "04.00", o + 23, o + 24);
          c.commit();
          return r;
        });
        // executeBatch in a block: three UPDATEs of two rows each (6 > 5).
        step(mode, "block-batch", () -> {
          try (PreparedStatement ps = c.prepareStatement("UPDATE orders SET amount = " + p + "05.00 WHERE id >= ? AND id <= ?")) {
            for (int i = 0; i < 3; i++) {
              ps.setInt(1, o + 31 + 2 * i);
              ps.setInt(2, o + 32 + 2 * i);
              ps.addBatch();
            }
            ps.executeBatch();
            c.commit();
            return "ok";
          }
        });
        c.rollback();
        c.setAutoCommit(true);
        // reWriteBatchedInserts, autocommit: ten rows in one multi-row INSERT.
        step(mode, "rewrite-insert", () -> {
          try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders (customer_id, amount, status, created_at) VALUES (?, " + p + "06.00, 'pending', now())")) {
            for (int i = 0; i < 10; i++) {
              ps.setInt(1, 1 + i);
              ps.addBatch();
            }
            ps.executeBatch();
            return "ok";
          }
        });
        step(mode, "still-usable", () -> {
          try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM orders")) {
            rs.next();
            return "ok";
          }
        });
      }
    }
  }
}
