package regate.clients;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.postgresql.PGStatement;

/**
 * The regate client scenario through pgjdbc (extended protocol for everything; after prepareThreshold runs a
 * PreparedStatement becomes a named server-side statement with binary parameters and results).
 *
 * <p>Inputs as for every client script (see ../README.md): the libpq-style URL as argv[0] or REGATE_URL,
 * EXPECT_NAMES, DENY_SQL. One JSON line per step on stdout; exit status 1 when any step failed.
 */
public final class JdbcClient {
  private static final String SELECT_3 = "SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3";
  private static final String SELECT_BY_ID = "SELECT id, full_name FROM public.customers WHERE id = ?";
  private static final String DENIED = "42501";
  private static final String IN_FAILED_TX = "25P02";
  /** pgjdbc's default; set explicitly so the test does not depend on it. */
  private static final int PREPARE_THRESHOLD = 5;

  private final String denySql;
  private final List<String> expectNames;
  private int failed;

  private JdbcClient(String denySql, List<String> expectNames) {
    this.denySql = denySql;
    this.expectNames = expectNames;
  }

  @FunctionalInterface
  private interface SqlAction<T> {
    T run() throws SQLException;
  }

  public static void main(String[] args) {
    String url = args.length > 0 ? args[0] : System.getenv("REGATE_URL");
    if (url == null || url.isEmpty()) {
      System.err.println("usage: JdbcClient URL (or set REGATE_URL)");
      System.exit(2);
    }
    String deny = System.getenv("DENY_SQL");
    JdbcClient client = new JdbcClient(
        deny == null || deny.isEmpty() ? "DELETE FROM public.orders" : deny, parseNames(System.getenv("EXPECT_NAMES")));
    System.exit(client.scenario(url));
  }

  private int scenario(String url) {
    Connection conn;
    try {
      conn = connect(url);
    } catch (Exception e) {
      report("connect", false, Map.of("error", String.valueOf(e)));
      return 1;
    }
    try (conn) {
      report("connect", true, Map.of("server_version", conn.getMetaData().getDatabaseProductVersion(),
          "driver_version", conn.getMetaData().getDriverVersion()));

      // a) allowed queries, without and with a parameter
      try (Statement st = conn.createStatement()) {
        selectRows("select_rows", () -> st.executeQuery(SELECT_3), 1, 2, 3);
      }
      try (PreparedStatement byId = conn.prepareStatement(SELECT_BY_ID)) {
        selectRows("select_param", () -> { byId.setInt(1, 2); return byId.executeQuery(); }, 2);

        // b) a denied statement, then the same connection and the same PreparedStatement go on
        try (Statement st = conn.createStatement()) {
          expectSqlState("deny", DENIED, () -> st.execute(denySql));
        }
        selectRows("after_deny", () -> { byId.setInt(1, 1); return byId.executeQuery(); }, 1);

        // d) the same PreparedStatement past prepareThreshold: a named server-side statement, binary int4 parameter
        for (int i = 0; i < PREPARE_THRESHOLD + 3; i++) {
          int id = 1 + i % 3;
          selectRows("prepared_" + i, () -> { byId.setInt(1, id); return byId.executeQuery(); }, id);
        }
        boolean serverPrepared = byId.unwrap(PGStatement.class).isUseServerPrepare();
        report("prepared_is_server_side", serverPrepared, Map.of("prepare_threshold", PREPARE_THRESHOLD));

        // A denied PreparedStatement, run until it too would be a named statement, each time 42501.
        try (PreparedStatement denied = conn.prepareStatement(denySql)) {
          for (int i = 0; i < PREPARE_THRESHOLD + 2; i++) {
            expectSqlState("prepared_deny_" + i, DENIED, denied::execute);
          }
        }
        // The named statement still works after the denials.
        selectRows("binary_param_after_deny", () -> { byId.setInt(1, 3); return byId.executeQuery(); }, 3);

        // c) a denial inside a transaction aborts it until ROLLBACK
        run("tx_begin", () -> { conn.setAutoCommit(false); return null; });
        try (Statement st = conn.createStatement()) {
          selectRows("tx_select", () -> st.executeQuery(SELECT_3), 1, 2, 3);
          expectSqlState("tx_deny", DENIED, () -> st.execute(denySql));
          expectSqlState("tx_aborted", IN_FAILED_TX, () -> st.executeQuery(SELECT_3));
          expectSqlState("tx_aborted_prepared", IN_FAILED_TX, () -> { byId.setInt(1, 1); return byId.executeQuery(); });
        }
        run("tx_rollback", () -> { conn.rollback(); conn.setAutoCommit(true); return null; });
        try (Statement st = conn.createStatement()) {
          selectRows("after_rollback", () -> st.executeQuery(SELECT_3), 1, 2, 3);
        }
        selectRows("prepared_after_rollback", () -> { byId.setInt(1, 2); return byId.executeQuery(); }, 2);
      }
    } catch (Exception e) {
      report("unexpected", false, Map.of("error", String.valueOf(e)));
    }
    return failed > 0 ? 1 : 0;
  }

  private static Connection connect(String url) throws SQLException {
    // postgres://user:password@host:port/db?sslmode=disable -> jdbc:postgresql://host:port/db?sslmode=disable
    URI uri = URI.create(url);
    Properties props = new Properties();
    String userInfo = uri.getRawUserInfo();
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      props.setProperty("user", decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
      if (colon >= 0) props.setProperty("password", decode(userInfo.substring(colon + 1)));
    }
    props.setProperty("prepareThreshold", String.valueOf(PREPARE_THRESHOLD));
    props.setProperty("connectTimeout", "10");
    props.setProperty("ApplicationName", "regate-jdbc-client");
    int port = uri.getPort() < 0 ? 5432 : uri.getPort();
    String query = uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery();
    return DriverManager.getConnection("jdbc:postgresql://" + uri.getHost() + ":" + port + uri.getRawPath() + query, props);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  private boolean selectRows(String step, SqlAction<ResultSet> query, int... ids) {
    List<Object> rows = new ArrayList<>();
    List<Integer> got = new ArrayList<>();
    boolean ok = true;
    try (ResultSet rs = query.run()) {
      while (rs.next()) {
        int id = rs.getInt(1);
        String name = rs.getString(2);
        got.add(id);
        rows.add(List.of(id, name));
        if (expectNames != null && id >= 1 && id <= expectNames.size() && !expectNames.get(id - 1).equals(name)) {
          ok = false;
        }
      }
    } catch (SQLException e) {
      return report(step, false, Map.of("sqlstate", String.valueOf(e.getSQLState()), "error", String.valueOf(e.getMessage())));
    }
    List<Integer> expected = Arrays.stream(ids).boxed().toList();
    ok = ok && got.equals(expected);
    return report(step, ok, Map.of("rows", rows, "expected_ids", expected));
  }

  private boolean expectSqlState(String step, String sqlstate, SqlAction<?> action) {
    try {
      Object result = action.run();
      if (result instanceof ResultSet rs) rs.close();
    } catch (SQLException e) {
      String got = e.getSQLState();
      return report(step, sqlstate.equals(got),
          Map.of("expected_sqlstate", sqlstate, "sqlstate", String.valueOf(got), "error", String.valueOf(e.getMessage())));
    }
    return report(step, false, Map.of("expected_sqlstate", sqlstate, "error", "no error"));
  }

  private boolean run(String step, SqlAction<?> action) {
    try {
      action.run();
    } catch (SQLException e) {
      return report(step, false, Map.of("sqlstate", String.valueOf(e.getSQLState()), "error", String.valueOf(e.getMessage())));
    }
    return report(step, true, Map.of());
  }

  private boolean report(String step, boolean ok, Map<String, ?> detail) {
    if (!ok) failed++;
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("client", "jdbc");
    line.put("step", step);
    line.put("ok", ok);
    line.putAll(detail);
    System.out.println(json(line));
    System.out.flush();
    return ok;
  }

  // --- a little JSON, enough for these lines ---

  private static String json(Object value) {
    if (value == null) return "null";
    if (value instanceof Boolean || value instanceof Number) return value.toString();
    if (value instanceof Map<?, ?> map) {
      StringBuilder sb = new StringBuilder("{");
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (sb.length() > 1) sb.append(',');
        sb.append(json(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
      }
      return sb.append('}').toString();
    }
    if (value instanceof List<?> list) {
      StringBuilder sb = new StringBuilder("[");
      for (Object item : list) {
        if (sb.length() > 1) sb.append(',');
        sb.append(json(item));
      }
      return sb.append(']').toString();
    }
    String s = value.toString();
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    return sb.append('"').toString();
  }

  /** EXPECT_NAMES is a JSON list of plain strings, e.g. ["Ada Abara","Chen Holm","Mei Rossi"]. */
  private static List<String> parseNames(String raw) {
    if (raw == null || raw.isBlank()) return null;
    List<String> names = new ArrayList<>();
    int i = raw.indexOf('[');
    if (i < 0) throw new IllegalArgumentException("EXPECT_NAMES is not a JSON list");
    i++;
    while (i < raw.length()) {
      char c = raw.charAt(i);
      if (c == '"') {
        StringBuilder sb = new StringBuilder();
        i++;
        while (i < raw.length() && raw.charAt(i) != '"') {
          char ch = raw.charAt(i);
          if (ch == '\\' && i + 1 < raw.length()) {
            char next = raw.charAt(++i);
            if (next == 'u' && i + 4 < raw.length()) {
              sb.append((char) Integer.parseInt(raw.substring(i + 1, i + 5), 16));
              i += 4;
            } else {
              sb.append(switch (next) { case 'n' -> '\n'; case 't' -> '\t'; case 'r' -> '\r'; default -> next; });
            }
          } else {
            sb.append(ch);
          }
          i++;
        }
        names.add(sb.toString());
      } else if (c == ']') {
        break;
      }
      i++;
    }
    return names;
  }
}
