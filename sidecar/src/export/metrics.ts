import { Gauge, type Registry } from "prom-client";
import type { Exporters } from "./index.js";

/** Upload counters, read from the exporters at scrape time (nothing on the hot path). */
export function registerExportMetrics(registry: Registry, exporters: Exporters): void {
  const gauge = (name: string, help: string, field: "dropped" | "refused" | "buffered" | "uploaded" | "upload_failures"): void => {
    new Gauge({
      name,
      help,
      labelNames: ["exporter"],
      registers: [registry],
      collect() {
        for (const [exporter, s] of Object.entries(exporters.stats())) this.set({ exporter }, s[field]);
      },
    });
  };
  gauge("regate_export_dropped_events_total", "Events dropped because the export buffer was full (buffer_policy drop_oldest)", "dropped");
  gauge("regate_export_refused_decisions_total", "Statements refused because the export buffer was full (buffer_policy block)", "refused");
  gauge("regate_export_buffered_events", "Events waiting for upload", "buffered");
  gauge("regate_export_uploaded_events_total", "Events the collector acknowledged", "uploaded");
  gauge("regate_export_upload_failures_total", "Upload requests that failed (network error or non-2xx)", "upload_failures");
}
