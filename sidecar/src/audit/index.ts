export { DecisionLog, type DecisionLogOptions } from "./decision-log.js";
export { opaEvent, type OpaEventOptions } from "./opa-event.js";
