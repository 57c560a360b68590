// Value detectors and mask strategies shared by the Postgres and HTTP adapters.
export { DETECTOR_NAMES, findMatches, isDetectorName } from "./detectors.js";
export type { DetectorMatch } from "./detectors.js";
export { applyStrategy, hashValue, partialAscii, REDACTED, strongerStrategy } from "./strategies.js";
export type { MaskHint } from "./strategies.js";
export { maskText } from "./mask-text.js";
export { luhnValid, ibanValid, ssnValid } from "./checksums.js";
export { secretTexts } from "./secret-texts.js";
export { isCredentialName, maskCredentialLiterals, maskCredentialQuery, namesCredential, SQL_LITERAL } from "./credentials.js";
