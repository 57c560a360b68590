// An event stream read as an agent reads it: the numbers its `data:` lines carry as they arrive, and when it
// ended (its end, or the connection closed under it).

/** Reads `res`'s events in the background; `done` settles when the stream ends, however it ends. */
export function readNumberedEvents(res: { body: ReadableStream<Uint8Array> | null }) {
  const events: number[] = [];
  let endedAt: number | undefined;
  const reader = res.body!.getReader();
  const done = (async () => {
    const text = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const m = /^data: (\d+)$/m.exec(buf.slice(0, i));
          if (m) events.push(Number(m[1]));
          buf = buf.slice(i + 2);
        }
      }
    } catch {
      // Cut: the connection was closed under the stream.
    }
    endedAt = performance.now();
  })();
  return { events, done, endedAt: () => endedAt, cancel: () => reader.cancel().catch(() => undefined) };
}
