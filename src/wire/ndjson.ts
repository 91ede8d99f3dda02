import { AppError } from "../domain/errors.ts";
import type { RawLine } from "./export.ts";

const NEWLINE = 0x0a;

/**
 * The non-blank lines of a JSON Lines body, read as they arrive (never the whole body at once).
 * A line longer than `maxLineBytes` is skipped (reported as such, by number); a body past
 * `maxBytes` is a 413 (the lines before it have been handed out already).
 */
export async function* readLines(
  body: ReadableStream<Uint8Array> | null,
  maxLineBytes: number,
  maxBytes: number,
): AsyncGenerator<RawLine> {
  if (!body) return;
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  let total = 0;
  const finish = (): RawLine | null => {
    line++;
    const out: RawLine | null = tooLong
      ? { line, tooLong: maxLineBytes }
      : size
        ? { line, text: decoder.decode(concat(parts, size)).replace(/\r$/, "") }
        : null;
    parts = [];
    size = 0;
    tooLong = false;
    if (out && "text" in out && !out.text.trim()) return null;
    return out;
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new AppError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
      let start = 0;
      for (;;) {
        const nl = value.indexOf(NEWLINE, start);
        const end = nl < 0 ? value.byteLength : nl;
        if (!tooLong) {
          if (size + end - start > maxLineBytes) {
            tooLong = true;
            parts = [];
            size = 0;
          } else if (end > start) {
            parts.push(value.subarray(start, end));
            size += end - start;
          }
        }
        if (nl < 0) break;
        const out = finish();
        if (out) yield out;
        start = nl + 1;
      }
    }
    const out = finish();
    if (out) yield out;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return bytes;
}
