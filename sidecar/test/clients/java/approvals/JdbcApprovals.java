// pgjdbc scenarios for the approval red-team tests (sidecar/test/approval/drivers-redteam.test.ts), compiled by
// the test with javac against target/lib. One line of output per step.
//
//   java -cp DIR:target/lib/* JdbcApprovals URL USER PASSWORD batch|cancel ID
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;

public class JdbcApprovals {
  static String first(String s) {
    return s == null ? "" : s.split("\n")[0];
  }

  public static void main(String[] a) throws Exception {
    String scenario = a[3];
    int id = Integer.parseInt(a[4]);
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
      c.createStatement().execute("SET application_name = 'jdbc-approvals'");
      try (PreparedStatement ps = c.prepareStatement("UPDATE payments SET amount = amount + 1 WHERE id = ?")) {
        if (scenario.equals("batch")) {
          // addBatch/executeBatch: Parse/Bind/Execute of every row pipelined before one Sync.
          for (int i = 0; i < 3; i++) {
            ps.setInt(1, id + i);
            ps.addBatch();
          }
          try {
            System.out.println("batch ok " + Arrays.toString(ps.executeBatch()));
          } catch (BatchUpdateException e) {
            SQLException next = e.getNextException();
            System.out.println("batch " + e.getSQLState() + " " + Arrays.toString(e.getUpdateCounts()) + " " + first(next == null ? e.getMessage() : next.getMessage()));
          } catch (SQLException e) {
            System.out.println("batch " + e.getSQLState() + " " + first(e.getMessage()));
          }
        } else if (scenario.equals("cancel")) {
          ps.setInt(1, id);
          new Thread(() -> {
            try {
              Thread.sleep(Long.parseLong(a[5]));
              ps.cancel();
            } catch (Exception e) {
              System.out.println("cancel failed " + e);
            }
          }).start();
          try {
            System.out.println("update " + ps.executeUpdate());
          } catch (SQLException e) {
            System.out.println("update " + e.getSQLState() + " " + first(e.getMessage()));
          }
        }
      }
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 42")) {
        rs.next();
        System.out.println("after " + rs.getInt(1));
      } catch (SQLException e) {
        System.out.println("after " + e.getSQLState() + " " + first(e.getMessage()));
      }
    }
  }
}
