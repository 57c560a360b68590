// Decision export: OPA decision-log upload and OCSF events for a SIEM. app.ts builds the sinks from config.

import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { DecisionEvent, DecisionSink } from "../decision/index.js";
import { LineSink } from "./lines.js";
import { OpaEventJson, SecretScrubber, type LifecycleEvent, type SecretSource } from "../audit/index.js";
import { REDACTED } from "../mask/index.js";
import { toOcsf, type OcsfEvent, type OcsfOptions } from "./ocsf.js";
import { lifecycleToOcsf } from "./ocsf-lifecycle.js";
import { MaskedSubjects } from "./masked-subjects.js";
import { BatchUploader, type BufferPolicy, type UploaderStats } from "./upload.js";

export { MaskedSubjects };

export { BatchUploader, type BufferPolicy, type UploaderOptions, type UploaderStats } from "./upload.js";
export { LineSink } from "./lines.js";
export { registerExportMetrics } from "./metrics.js";
export { lifecycleToOcsf } from "./ocsf-lifecycle.js";
export { toOcsf, OCSF_VERSION, MAX_QUERY_CHARS, type OcsfEvent, type OcsfOptions } from "./ocsf.js";

/** What every batching exporter is configured with (the decision-log upload, the OCSF https and HEC sinks). */
interface BatchSettings {
  enabled: boolean;
  token?: { reveal(): string };
  min_delay_seconds: number;
  max_delay_seconds: number;
  upload_size_limit_bytes: number;
  buffer_size_limit_events: number;
  buffer_size_limit_bytes: number;
  buffer_policy: BufferPolicy;
  timeout_ms: number;
  tls?: TlsFiles;
}

/** The shape of config.export (config/types.ts), restated so this folder does not import config. */
export interface ExportSettings {
  decision_logs: BatchSettings & { service_url?: string; path: string };
  ocsf: BatchSettings & {
    sink: "stdout" | "file" | "https" | "splunk_hec";
    file: string;
    endpoint?: string;
    splunk: { source: string; sourcetype: string; index?: string };
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
  /** Lifecycle events (holds, cuts, kills, locks) for the SIEM: OCSF events in the same sink as the decisions. */
  lifecycle(e: LifecycleEvent): void;
  /** Upload state for metrics and status, by exporter name ("decision_logs", "ocsf"). */
  stats(): Record<string, UploaderStats>;
  /** Flushes what is buffered for up to `deadlineMs` (default 5 s), then stops. */
  close(deadlineMs?: number): Promise<void>;
}

export interface ExportDeps {
  log: Logger;
  /**
   * The secrets regate holds (app-recording.ts heldSecrets), or where to read them as they change: replaced in
   * every exported event, in any form. An agent can type one it learned into a statement, a path or a body,
   * and an event leaving the host for a SIEM must not be the way round the decision log's scrubbing.
   */
  secrets?: SecretSource;
  bundle_name: string;
  labels: Record<string, string>;
  product_version: string;
  recordingLink?: OcsfOptions["recordingLink"];
  stdout?: NodeJS.WritableStream;
  fetch?: typeof fetch;
}

export function createExporters(cfg: ExportSettings, deps: ExportDeps): Exporters {
  const scrubber = new SecretScrubber(deps.secrets ?? [], REDACTED);
  const scrub = (json: string) => scrubber.scrub(json);
  // A text scrubbed as the line will be (as a JSON string, so forms with a newline count too). A replacement
  // that left no valid JSON string behind would be a form cut through an escape: nothing of that text goes out.
  const scrubRaw = (text: string): string => {
    const json = JSON.stringify(text);
    const scrubbed = scrub(json);
    if (scrubbed === json) return text;
    try {
      const back: unknown = JSON.parse(scrubbed);
      return typeof back === "string" ? back : REDACTED;
    } catch {
      return REDACTED;
    }
  };
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
      serialize: (e) => scrub(events.json(e)),
      frame: jsonArray,
      log: deps.log.child({ component: "decision-log-upload" }),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    uploaders.set("decision_logs", up);
  }

  const oc = cfg.ocsf;
  let lifecycle: (e: LifecycleEvent) => void = () => {};
  let lines: LineSink | undefined;
  if (oc.enabled) {
    const ocsfOpts: OcsfOptions = {
      product_version: deps.product_version,
      bundle_name: deps.bundle_name,
      scrubText: scrubRaw,
      ...(deps.recordingLink ? { recordingLink: deps.recordingLink } : {}),
    };
    const batch = { ...oc, ...readTls(oc.tls), log: deps.log.child({ component: "ocsf-export" }), ...(deps.fetch ? { fetch: deps.fetch } : {}) };
    // Splunk's HTTP Event Collector takes one envelope per event, envelopes concatenated in one request.
    const { source, sourcetype, index } = oc.splunk;
    const text =
      oc.sink === "splunk_hec"
        ? (ev: OcsfEvent) => scrub(JSON.stringify({ time: (ev["time"] as number) / 1000, host: "regate", source, sourcetype, ...(index ? { index } : {}), event: ev }))
        : (ev: OcsfEvent) => scrub(JSON.stringify(ev));
    const masked = new MaskedSubjects();
    const decisionText = (e: DecisionEvent): string => {
      masked.note(e);
      return text(toOcsf(e, ocsfOpts));
    };
    // The subject of a lifecycle event never went through the policy's log mask: withheld after a decision it hid.
    // So is an approval's reason (the decision's approve.reason) after a decision whose reasons the mask hid.
    const lifecycleText = (e: LifecycleEvent): string => {
      let shown = e.subject !== undefined && masked.withhold(e) ? { ...e, subject: REDACTED } : e;
      if (shown.reason !== undefined && (e.kind === "approval_requested" || e.kind === "approval_deferred") && masked.withholdReason(e)) shown = { ...shown, reason: REDACTED };
      return text(lifecycleToOcsf(shown, ocsfOpts));
    };
    if (oc.sink === "stdout" || oc.sink === "file") {
      // The same bound and policy as the uploads: a stdout nobody reads or a file that failed fills no memory.
      const bound = { buffer_size_limit_events: oc.buffer_size_limit_events, buffer_size_limit_bytes: oc.buffer_size_limit_bytes, buffer_policy: oc.buffer_policy };
      const s =
        oc.sink === "stdout"
          ? new LineSink((deps.stdout ?? process.stdout) as never, decisionText, false, (err) => batch.log.error({ err }, "OCSF events cannot be written to stdout"), bound)
          : LineSink.file(oc.file, decisionText, (err) => batch.log.error({ err, file: oc.file }, "OCSF event file cannot be written; events are dropped (or, with buffer_policy block, statements refused)"), bound);
      lines = s;
      sinks.push(s);
      closers.push(() => s.close());
      lifecycle = (e) => s.line(lifecycleText(e));
    } else {
      const up = new BatchUploader({
        ...batch,
        url: oc.endpoint!,
        headers: oc.token ? { authorization: `${oc.sink === "splunk_hec" ? "Splunk" : "Bearer"} ${oc.token.reveal()}` } : {},
        serialize: decisionText,
        frame: oc.sink === "splunk_hec" ? (items) => items.join("\n") : jsonArray,
      });
      uploaders.set("ocsf", up);
      lifecycle = (e) => up.enqueue(lifecycleText(e));
    }
  }

  for (const up of uploaders.values()) {
    sinks.push(up);
    closers.push((deadlineMs) => up.close(deadlineMs));
  }
  return {
    sinks,
    lifecycle,
    stats: () => ({ ...Object.fromEntries([...uploaders].map(([k, u]) => [k, u.stats])), ...(lines ? { ocsf: lines.stats } : {}) }),
    close: async (deadlineMs) => {
      await Promise.allSettled(closers.map((c) => c(deadlineMs)));
    },
  };
}

