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
}
