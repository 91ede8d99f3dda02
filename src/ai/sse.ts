import { LlmError } from "./llm.ts";

/** The `data` payloads of a server-sent-events stream, in order (multi-line data joined by `\n`). */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
    }
    if (buffer.startsWith("data:")) data.push(buffer.slice(5).replace(/^ /, ""));
    if (data.length) yield data.join("\n");
  } finally {
    // Stops the upstream response when the consumer leaves early.
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Passes a stream through, failing with a timeout LlmError when no chunk arrives for `ms`:
 * a stalled stream is an error, a long but live one is not.
 */
export async function* idleTimeout<T>(
  source: AsyncIterable<T>,
  ms: number,
  what: string,
  onStall?: () => void,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let stalledOut = false;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stalledOut = true;
          onStall?.();
          reject(new LlmError(`${what} stalled: no data for ${ms} ms`, "timeout", false));
        }, ms);
      });
      let next: IteratorResult<T>;
      try {
        next = await Promise.race([it.next(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // After a stall the source's pending read may never settle: close it without waiting.
    const closing = it.return?.();
    if (!stalledOut) await closing;
    else closing?.catch(() => undefined);
  }
}
