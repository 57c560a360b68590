import { access, readFile } from "node:fs/promises";
import type { Config } from "../config/index.js";
import type { RegateError } from "../errors.js";
import { readPersistedRevisions } from "./persisted.js";
import { BundleDownloader } from "./service.js";
import type { SigningOptions } from "./signature.js";
import { PolicyStore } from "./store.js";

export interface PolicySourceHooks {
  /** A bundle was refused or the server failed; the last good bundle keeps serving. */
  onError(err: RegateError, where: "file" | "service" | "persisted"): void;
}

export interface PolicySource {
  store: PolicyStore;
  downloader?: BundleDownloader;
  close(): void;
}

/** Store options from the config: signature verification only when `policy.signing` is set. */
export function storeOptions(policy: Config["policy"], name: string): ConstructorParameters<typeof PolicyStore>[1] {
  const s = policy.signing;
  if (!s) return { name, evalTimeoutMs: policy.eval_timeout_ms, entrypoint: policy.entrypoint };
  const signing: SigningOptions = {
    required: s.required,
    exclude_files: s.exclude_files,
    ...(s.keyid ? { keyid: s.keyid } : {}),
    ...(s.scope !== undefined ? { scope: s.scope } : {}),
    keys: Object.fromEntries(
      Object.entries(s.keys).map(([id, k]) => [id, { algorithm: k.algorithm, key: k.key.reveal(), ...(k.scope !== undefined ? { scope: k.scope } : {}) }]),
    ),
  };
  return { name, signing, allowRollback: s.allow_rollback, evalTimeoutMs: policy.eval_timeout_ms, entrypoint: policy.entrypoint };
}

/**
 * Where the policy comes from. A file: loaded now (a broken one stops startup) and watched. A bundle
 * server: the persisted last good bundle first, so a restart without the server still enforces, then
 * the first poll; with neither, the store stays empty and every decision is denied until a bundle arrives.
 */
export async function startPolicySource(store: PolicyStore, policy: Config["policy"], hooks: PolicySourceHooks): Promise<PolicySource> {
  const service = policy.service;
  if (!service) {
    await store.load("file");
    if (policy.watch_interval_ms > 0) store.watch(policy.watch_interval_ms);
    return { store, close: () => store.close() };
  }
  if (service.persist && (await access(policy.bundle).then(() => true, () => false))) {
    const bytes = await readFile(policy.bundle);
    store.rememberRevisions(await readPersistedRevisions(policy.bundle, bytes, policy.signing?.exclude_files ?? []));
    await store.install(bytes, "persisted").catch((err: RegateError) => hooks.onError(err, "persisted"));
  }
  const url = `${service.url.replace(/\/+$/, "")}/${service.resource.replace(/^\/+/, "")}`;
  const downloader = new BundleDownloader(
    store,
    {
      url,
      ...(service.token ? { token: service.token.reveal() } : {}),
      ...(service.ca_file ? { ca: await readFile(service.ca_file, "utf8") } : {}),
      ...(service.cert_file && service.key_file ? { cert: await readFile(service.cert_file, "utf8"), key: await readFile(service.key_file, "utf8") } : {}),
      minDelayMs: service.min_delay_seconds * 1000,
      maxDelayMs: service.max_delay_seconds * 1000,
      longPollSeconds: service.long_polling_timeout_seconds,
      ...(service.persist ? { persistPath: policy.bundle } : {}),
    },
    (err) => hooks.onError(err, "service"),
  );
  await downloader.start();
  return {
    store,
    downloader,
    close: () => {
      downloader.stop();
      store.close();
    },
  };
}
