/**
 * A manifest `regate inject` cannot handle: unparseable YAML, a workload without a pod template, a name
 * clash. The message is the whole story (file, document, object); the CLI prints it and exits 1.
 * Not a RegateError: nothing here reaches an agent, a log pipeline or a metric.
 */
export class InjectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InjectError";
  }
}
