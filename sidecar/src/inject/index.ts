export { InjectError } from "./errors.js";
export { injectManifest, type InjectOutput, type ObjectReport } from "./manifest.js";
export { defaultOptions, optionProblems, packageVersion, PORTS, SIDECAR, type InjectOptions } from "./options.js";
export { isInjected, injectTemplate } from "./pod-template.js";
export { sidecarContainer, sidecarVolumes, type Json, type JsonObject } from "./sidecar.js";
