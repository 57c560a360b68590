import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema } from "../config/index.js";
import { packageRoot } from "../paths.js";

export interface InjectOptions {
  /** The regate image the sidecar runs. */
  image: string;
  /** ConfigMap holding `regate.yaml`, mounted at CONFIG_DIR. */
  configMap: string;
  /** ConfigMap holding `bundle.tar.gz` (kubectl create configmap --from-file), mounted at POLICY_DIR. */
  policyConfigMap: string;
  /** Secret whose keys become the sidecar's environment (the `{env: NAME}` secrets of regate.yaml). */
  secret: string;
}

/** Names and places shared by the injector, the image (Dockerfile CMD) and deploy/kubernetes/. */
export const SIDECAR = {
  container: "regate",
  annotation: "regate.dev/injected",
  configVolume: "regate-config",
  policyVolume: "regate-policy",
  configDir: "/etc/regate",
  configFile: "/etc/regate/regate.yaml",
  /** Not below configDir: a ConfigMap volume is read-only, so nothing can be mounted inside it. */
  policyDir: "/etc/regate-policy",
  adminPortName: "regate-admin",
  /** The same non-root ids as the image's USER. */
  uid: 10001,
} as const;

/** The listeners' default ports (config schema): the probes use the admin one; the others are checked for clashes. */
export const PORTS = {
  postgres: configSchema.properties.postgres.properties.listen.properties.port.default,
  http: configSchema.properties.http.properties.listen.properties.port.default,
  admin: configSchema.properties.admin.properties.listen.properties.port.default,
} as const;

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version?: unknown };
  if (typeof pkg.version !== "string") throw new Error("package.json has no version");
  return pkg.version;
}

export function defaultOptions(): InjectOptions {
  return {
    image: `ghcr.io/regate/regate:${packageVersion()}`,
    configMap: "regate-config",
    policyConfigMap: "regate-policy",
    secret: "regate-secrets",
  };
}

/** DNS-1123 subdomain: what Kubernetes accepts as a ConfigMap or Secret name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Every problem with the options, at once. */
export function optionProblems(o: InjectOptions): string[] {
  const problems: string[] = [];
  const names: [string, string][] = [
    ["--config-map", o.configMap],
    ["--policy-config-map", o.policyConfigMap],
    ["--secret", o.secret],
  ];
  for (const [flag, name] of names) {
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) problems.push(`${flag} ${JSON.stringify(name)}: not a valid Kubernetes object name`);
  }
  if (!o.image.trim() || /\s/.test(o.image)) problems.push(`--image ${JSON.stringify(o.image)}: not an image reference`);
  return problems;
}
