export * from "./codes.js";
export { BODY, FrameReader, type Frame } from "./frame-reader.js";
export { BodyReader } from "./body-reader.js";
export * from "./frontend.js";
export * from "./backend.js";
export { rewriteDataRow, type Replacement, type ReplaceValue } from "./data-row.js";
export { OutBatch } from "./out-batch.js";
