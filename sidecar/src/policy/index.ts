export { readBundle, type Bundle, type Manifest } from "./bundle.js";
export { activate, type ActivePolicy } from "./engine.js";
export { validateDecision } from "./validate.js";
export { PolicyStore } from "./store.js";
