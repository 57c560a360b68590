// Decision export: OPA decision-log upload and OCSF events for a SIEM. app.ts builds the sinks from config.

import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { LineSink } from "./lines.js";
import { OpaEventJson } from "../audit/index.js";
import { toOcsf, type OcsfOptions } from "./ocsf.js";
import { BatchUploader, type BufferPolicy, type UploaderStats } from "./upload.js";

export { BatchUploader, type BufferPolicy, type UploaderOptions, type UploaderStats } from "./upload.js";
export { LineSink } from "./lines.js";
export { registerExportMetrics } from "./metrics.js";
export { toOcsf, OCSF_VERSION, MAX_QUERY_CHARS, type OcsfEvent, type OcsfOptions } from "./ocsf.js";

/** The shape of config.export (config/types.ts), restated so this folder does not import config. */
export interface ExportSettings {
  decision_logs: {
    enabled: boolean;
    service_url?: string;
    path: string;
    token?: { reveal(): string };
    min_delay_seconds: number;
    max_delay_seconds: number;
    upload_size_limit_bytes: number;
    buffer_size_limit_events: number;
    buffer_policy: BufferPolicy;
    timeout_ms: number;
    tls?: TlsFiles;
  };
  ocsf: {
    enabled: boolean;
    sink: "stdout" | "file" | "https" | "splunk_hec";
    file: string;
    endpoint?: string;
    token?: { reveal(): string };
    splunk: { source: string; sourcetype: string; index?: string };
    min_delay_seconds: number;
    max_delay_seconds: number;
    upload_size_limit_bytes: number;
    buffer_size_limit_events: number;
    buffer_policy: BufferPolicy;
    timeout_ms: number;
    tls?: TlsFiles;
  };
}

export interface TlsFiles {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
}

/** Read once at boot: a missing file stops regate from starting, as any other config problem does. */
function readTls(t: TlsFiles | undefined): { tls: { ca?: string; cert?: string; key?: string } | undefined } {
  if (!t) return { tls: undefined };
  const read = (f: string | undefined) => (f ? readFileSync(f, "utf8") : undefined);
  const tls = { ca: read(t.ca_file), cert: read(t.cert_file), key: read(t.key_file) };
  return { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) };
}

export interface Exporters {
  sinks: DecisionSink[];
  /** Upload state for metrics and status, by exporter name ("decision_logs", "ocsf"). */
  stats(): Record<string, UploaderStats>;
  /** Flushes what is buffered for up to `deadlineMs` (default 5 s), then stops. */
  close(deadlineMs?: number): Promise<void>;
}

export interface ExportDeps {
  log: Logger;
  bundle_name: string;
  labels: Record<string, string>;
  product_version: string;
  stdout?: NodeJS.WritableStream;
  fetch?: typeof fetch;
}

export function createExporters(cfg: ExportSettings, deps: ExportDeps): Exporters {
  const sinks: DecisionSink[] = [];
  const uploaders = new Map<string, BatchUploader>();
  const closers: ((deadlineMs?: number) => Promise<void>)[] = [];
  const jsonArray = (items: string[]): string => `[${items.join(",")}]`;

  const dl = cfg.decision_logs;
  if (dl.enabled) {
    const events = new OpaEventJson({ bundle_name: deps.bundle_name, labels: deps.labels });
    const up = new BatchUploader({
      ...dl,
      ...readTls(dl.tls),
      url: dl.service_url!.replace(/\/+$/, "") + dl.path,
      headers: dl.token ? { authorization: `Bearer ${dl.token.reveal()}` } : {},
      serialize: (e) => events.json(e),
      frame: jsonArray,
      log: deps.log.child({ component: "decision-log-upload" }),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    uploaders.set("decision_logs", up);
  }

  const oc = cfg.ocsf;
  if (oc.enabled) {
    const ocsfOpts: OcsfOptions = { product_version: deps.product_version, bundle_name: deps.bundle_name };
    const ocsfJson = (e: DecisionEvent): string => JSON.stringify(toOcsf(e, ocsfOpts));
    const batch = { ...oc, ...readTls(oc.tls), log: deps.log.child({ component: "ocsf-export" }), ...(deps.fetch ? { fetch: deps.fetch } : {}) };
    if (oc.sink === "stdout") {
      const s = new LineSink((deps.stdout ?? process.stdout) as never, ocsfJson, false);
      sinks.push(s);
      closers.push(() => s.close());
    } else if (oc.sink === "file") {
      const s = LineSink.file(oc.file, ocsfJson, (err) => batch.log.error({ err, file: oc.file }, "OCSF event file cannot be written"));
      sinks.push(s);
      closers.push(() => s.close());
    } else if (oc.sink === "https") {
      uploaders.set("ocsf", new BatchUploader({ ...batch, url: oc.endpoint!, headers: oc.token ? { authorization: `Bearer ${oc.token.reveal()}` } : {}, serialize: ocsfJson, frame: jsonArray }));
    } else {
      // Splunk HTTP Event Collector: one envelope per event, envelopes concatenated in one request.
      const { source, sourcetype, index } = oc.splunk;
      uploaders.set(
        "ocsf",
        new BatchUploader({
          ...batch,
          url: oc.endpoint!,
          headers: oc.token ? { authorization: `Splunk ${oc.token.reveal()}` } : {},
          serialize: (e) => {
            const ev = toOcsf(e, ocsfOpts);
            return JSON.stringify({ time: (ev["time"] as number) / 1000, host: "regate", source, sourcetype, ...(index ? { index } : {}), event: ev });
          },
          frame: (items) => items.join("\n"),
        }),
      );
    }
  }

  for (const up of uploaders.values()) {
    sinks.push(up);
    closers.push((deadlineMs) => up.close(deadlineMs));
  }
  return {
    sinks,
    stats: () => Object.fromEntries([...uploaders].map(([k, u]) => [k, u.stats])),
    close: async (deadlineMs) => {
      await Promise.allSettled(closers.map((c) => c(deadlineMs)));
    },
  };
}
