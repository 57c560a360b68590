package regate.upstream;

import jakarta.servlet.MultipartConfigElement;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.catalina.Context;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.springframework.web.filter.HiddenHttpMethodFilter;

/**
 * A real Java upstream for regate's red-team test (sidecar/test/http/tomcat-redteam.test.ts): embedded Tomcat
 * with its defaults (encoded '/' and '\' rejected, ';' path parameters parsed), Spring's HiddenHttpMethodFilter
 * in front of every request (a form POST's _method turns it into PUT, DELETE or PATCH, as in a Spring app), and
 * one servlet that records what it executed. Multipart forms are parsed for the filter too, as Spring Boot's
 * DispatcherServlet registration does. Prints its base URL on the first line of stdout; GET /_executed returns
 * (and clears) the record.
 */
public final class TomcatUpstream {
  private static final List<String> EXECUTED = new ArrayList<>();

  /** Every request except /_executed: records the method, paths and form fields the servlet was handed. */
  static final class Recorder extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      String entry =
          "{\"method\":" + json(req.getMethod())
              + ",\"request_uri\":" + json(req.getRequestURI())
              + ",\"servlet_path\":" + json(req.getServletPath())
              + ",\"path_info\":" + json(req.getPathInfo())
              + ",\"path_parameters\":" + json(pathParameters(req.getRequestURI()))
              + ",\"amount\":" + json(req.getParameter("amount"))
              + "}";
      synchronized (EXECUTED) {
        EXECUTED.add(entry);
      }
      res.setContentType("application/json");
      res.getOutputStream().write(entry.getBytes(StandardCharsets.UTF_8));
    }
  }

  /** The record, oldest first; reading it clears it. */
  static final class Log extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      String body;
      synchronized (EXECUTED) {
        body = "[" + String.join(",", EXECUTED) + "]";
        EXECUTED.clear();
      }
      res.setContentType("application/json");
      res.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
  }

  /** The ';' parameters of each segment of the raw request URI, as Tomcat strips them before mapping. */
  static String pathParameters(String uri) {
    StringBuilder out = new StringBuilder();
    for (String seg : uri.split("/", -1)) {
      int semi = seg.indexOf(';');
      if (semi < 0) continue;
      if (out.length() > 0) out.append('/');
      out.append(seg.substring(semi + 1));
    }
    return out.length() == 0 ? null : out.toString();
  }

  static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    File base = Files.createTempDirectory("regate-tomcat").toFile();
    base.deleteOnExit();
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(base.getAbsolutePath());
    Connector connector = tomcat.getConnector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    Context ctx = tomcat.addContext("", base.getAbsolutePath());

    FilterDef filter = new FilterDef();
    filter.setFilterName("hiddenHttpMethod");
    filter.setFilter(new HiddenHttpMethodFilter());
    ctx.addFilterDef(filter);
    FilterMap map = new FilterMap();
    map.setFilterName("hiddenHttpMethod");
    map.addURLPatternDecoded("/*");
    ctx.addFilterMap(map);

    Wrapper recorder = Tomcat.addServlet(ctx, "recorder", new Recorder());
    recorder.setMultipartConfigElement(new MultipartConfigElement(""));
    ctx.addServletMappingDecoded("/", "recorder");
    ctx.addServletMappingDecoded("/refunds/*", "recorder");
    ctx.addServletMappingDecoded("/customers/*", "recorder");
    Tomcat.addServlet(ctx, "log", new Log());
    ctx.addServletMappingDecoded("/_executed", "log");

    tomcat.start();
    System.out.println("http://127.0.0.1:" + connector.getLocalPort());
    System.out.flush();
    tomcat.getServer().await();
  }
}
