export type * from "./types.js";
export { outcomeOf } from "./types.js";
export type { Decider, DecideOptions, Veto } from "./decider.js";
export type { DecisionEvent, DecisionSink, DecisionMetrics } from "./sink.js";
export { DecisionPipeline, type PipelineOptions } from "./pipeline.js";
export { timeInput } from "./time.js";
export { nextStep, refusalLine } from "./next-step.js";
export { roomInSinks } from "./room.js";
export { StoreSchemaGuard, type ProtectedSchema } from "./store-guard.js";
