import { PORTS, SIDECAR, type InjectOptions } from "./options.js";

/** A JSON value as it sits in a manifest. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const probe = (path: string, extra: JsonObject): JsonObject => ({
  httpGet: { path, port: SIDECAR.adminPortName },
  ...extra,
});

/**
 * The regate container as a native sidecar: an init container with restartPolicy Always starts before
 * the app containers, stays up beside them, and stops after them (Jobs still complete).
 * The startup probe holds the app back until regate listens (/healthz answers only once the bundle is
 * loaded and the data-plane listeners are up); readiness follows /readyz (bundle + upstream).
 */
export function sidecarContainer(o: InjectOptions): JsonObject {
  return {
    name: SIDECAR.container,
    image: o.image,
    restartPolicy: "Always",
    args: ["run", "--config", SIDECAR.configFile],
    envFrom: [{ secretRef: { name: o.secret } }],
    ports: [{ name: SIDECAR.adminPortName, containerPort: PORTS.admin, protocol: "TCP" }],
    startupProbe: probe("/healthz", { periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 2 }),
    readinessProbe: probe("/readyz", { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 }),
    livenessProbe: probe("/healthz", { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 }),
    resources: {
      requests: { cpu: "50m", memory: "96Mi" },
      limits: { memory: "256Mi" },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR.uid,
      runAsGroup: SIDECAR.uid,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [
      { name: SIDECAR.configVolume, mountPath: SIDECAR.configDir, readOnly: true },
      { name: SIDECAR.policyVolume, mountPath: SIDECAR.policyDir, readOnly: true },
    ],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/** Whole-ConfigMap mounts (no subPath), so an updated bundle reaches the pod and hot-reloads. */
export function sidecarVolumes(o: InjectOptions): JsonObject[] {
  return [
    { name: SIDECAR.configVolume, configMap: { name: o.configMap } },
    { name: SIDECAR.policyVolume, configMap: { name: o.policyConfigMap } },
  ];
}
