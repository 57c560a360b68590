export { DecisionLog, type DecisionLogOptions } from "./decision-log.js";
