import { Gauge, type Registry } from "prom-client";
import type { Recorder } from "./recorder.js";

/** Recording counters, read from the recorder when Prometheus scrapes. */
export function registerRecordingMetrics(registry: Registry, recorder: Recorder): void {
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge("regate_recording_records_total", "Session records written", () => recorder.written.records);
  gauge("regate_recording_bytes_total", "Bytes of session records written", () => recorder.written.bytes);
  gauge("regate_recording_write_failures_total", "Record writes that failed (each turns statements into refusals)", () => recorder.written.failures);
  gauge("regate_recording_refused_decisions_total", "Decisions refused because recordings could not be written (RECORDING_UNAVAILABLE)", () => recorder.written.refused);
  gauge("regate_recording_checkpoints_total", "Periodic checkpoints of live sessions written to the journal", () => recorder.written.checkpoints);
  gauge("regate_recording_failing", "1 while records cannot be written and statements are refused", () => (recorder.failing ? 1 : 0));
  const store = recorder.opts.store;
  if (!store) return;
  gauge("regate_recording_store_queue_depth", "Records waiting to be copied to the recording store", () => store.depth);
  gauge("regate_recording_store_queue_bytes", "Bytes of the records waiting to be copied to the recording store (bounded by queue_max_bytes)", () => store.queuedBytes);
  gauge("regate_recording_store_records_total", "Records copied to the recording store", () => store.stats.stored);
  gauge("regate_recording_store_bytes_total", "Bytes of records copied to the recording store", () => store.stats.bytes);
  gauge("regate_recording_store_dropped_total", "Records left out of the recording store (on_backlog drop, or still queued at shutdown); 0 in refuse mode", () => store.stats.dropped);
  gauge("regate_recording_store_failures_total", "INSERTs into the recording store that failed (their records are kept and retried)", () => store.stats.failures);
  gauge("regate_recording_store_failing", "1 while the recording store cannot be reached", () => (store.failing ? 1 : 0));
}
