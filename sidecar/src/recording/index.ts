// Session recordings (docs/recording.md): hash-chained JSON lines per session, a journal per directory,
// retention, and the readers behind `regate recordings`.
export { Recorder, type RecorderOptions } from "./recorder.js";
export { applyRetention, type RetentionLimits, type RetentionResult } from "./retention.js";
export { findRecording, readJournal, readRecords, recordingFiles, summarize, verifyDir, type RecordingSummary, type VerifyReport } from "./read.js";
export { checkChain, type ChainCheck } from "./verify.js";
export { keyId, publicKey, signingKey } from "./sign.js";
export { canonicalJson } from "./canonical.js";
export type { ChainRecord } from "./chain.js";
export { isRecordingFile, JOURNAL, recordingFileName } from "./layout.js";
export { registerRecordingMetrics } from "./metrics.js";
export { composeHooks } from "./compose.js";
export { formatTimeline, printable, printableJson, shownText } from "./timeline.js";
export { scrubSecrets, scrubSecretsCounted, secretForms } from "./scrub.js";
export { HttpRecorder } from "./http.js";
export { lifecycleRecorder } from "./lifecycle.js";
export { checkJournalHead, journalHead, type JournalHead } from "./journal-head.js";
export { noteRead, READS_LOG, type RecordingRead } from "./reads.js";
export { PgRecordingStore } from "./pg-store.js";
export { catchUp, recordingStore, storeUpstream } from "./store-from-config.js";
export { pullRecordings, type Pulled } from "./pull.js";
