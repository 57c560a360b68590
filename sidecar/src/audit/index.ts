export { flushLogBatches, LogBatch } from "./batch.js";
export { DecisionLog, type DecisionLogOptions } from "./decision-log.js";
export { OpaEventJson, type OpaEventOptions } from "./opa-event.js";
export { approvalEvents, budgetCutEvents, sessionEndedEvent } from "./lifecycle-sources.js";
export { LifecycleBus, type LifecycleEvent, type LifecycleKind, type LifecycleListener } from "./lifecycle.js";
export { SecretSearch } from "./secret-search.js";
export { REDACTED, SecretScrubber, type SecretSource } from "./secret-scrubber.js";
