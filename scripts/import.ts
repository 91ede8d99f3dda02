// Imports a file into a tenant: `npm run import -- --from mem0|ams|edgemem FILE`.
//
// Posts the file to POST /v1/import in parts (each a bounded number of lines and bytes), so a file
// of any size imports; every part is idempotent (ids kept, records already stored left alone), so
// an interrupted run can simply be run again. Prints what each part did, then the totals and every
// line that could not be imported (by its line in FILE, or its item for a mem0/AMS JSON document).
//
//   --from FORMAT      edgemem (an export of this server: JSON Lines), mem0 (its memory export: a
//                      JSON list, `{"results": [...]}` or `{"memories": [...]}`, or JSON Lines), or
//                      ams (Agent Memory Server long-term memory records, the same shapes)
//   --url URL          the Worker (default http://127.0.0.1:8787, i.e. `npm run dev`)
//   --token JWT        a token with the memory:write scope of the tenant to import into (default:
//                      $EDGEMEM_TOKEN; none with AUTH_MODE=none). Locally: npm run -s token -- --tenant T
//   --namespace NS     mem0 and AMS: the namespace of memories that name none
//   --lines N          records per request (default 500)
//
// Exits 0 when every record imported (or was already there), 1 when some lines failed or the
// server refused the import, 2 on wrong options or an unreadable file.
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const USAGE =
  "usage: npm run import -- --from edgemem|mem0|ams FILE [--url http://127.0.0.1:8787] [--token JWT] [--namespace NS] [--lines N]";
const FORMATS = ["edgemem", "mem0", "ams"] as const;
type Format = (typeof FORMATS)[number];
/** Bytes per request, far below the server's cap (100 MB) and quick to retry. */
const MAX_PART_BYTES = 8 * 1024 * 1024;

interface Counts {
  [kind: string]: number;
}
interface ImportResult {
  imported: Counts;
  unchanged: Counts;
  errors: { line: number; error: string; field: string | null }[];
  failed: number;
  stopped_at_line: number | null;
  warnings: string[];
}

function fail(message: string, code = 1): never {
  console.error(`import: ${message}`);
  process.exit(code);
}

let values;
let positionals: string[];
try {
  ({ values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
      token: { type: "string" },
      namespace: { type: "string" },
      lines: { type: "string", default: "500" },
    },
  }));
} catch (e) {
  fail(`${(e as Error).message}\n${USAGE}`, 2);
}

const format = values.from as Format | undefined;
if (!format || !FORMATS.includes(format)) fail(`--from must be one of ${FORMATS.join(", ")}\n${USAGE}`, 2);
const file = positionals[0];
if (!file || positionals.length > 1) fail(`give exactly one FILE\n${USAGE}`, 2);
if (!/^[1-9]\d*$/.test(values.lines)) fail("--lines must be a positive whole number", 2);
const perPart = Number(values.lines);
const token = values.token ?? process.env.EDGEMEM_TOKEN;
const url = new URL(`${values.url.replace(/\/+$/, "")}/v1/import`);
url.searchParams.set("format", format);
if (values.namespace) url.searchParams.set("namespace", values.namespace);

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Posts one part; a network error or a 5xx is retried (a part is idempotent), a 4xx ends the run. */
async function post(body: string): Promise<ImportResult> {
  const headers: Record<string, string> = { "content-type": "application/x-ndjson" };
  if (token) headers.authorization = `Bearer ${token}`;
  for (let attempt = 1; ; attempt++) {
    let status = 0;
    let text = "";
    try {
      const res = await fetch(url, { method: "POST", headers, body });
      status = res.status;
      text = await res.text();
    } catch (e) {
      text = (e as Error).message;
    }
    if (status === 200) return JSON.parse(text) as ImportResult;
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text as it is
    }
    if ((status !== 0 && status < 500) || attempt >= 5) fail(`the server answered ${status || "nothing"}: ${message}`);
    const wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
    console.error(`import: ${status || "network error"} (${message}); retrying in ${wait / 1000} s`);
    await pause(wait);
  }
}

/** The records of FILE, one JSON text each, with where each came from (its line, or its item). */
async function* records(): AsyncGenerator<{ text: string; from: string }> {
  if (format === "edgemem") {
    let header = false;
    let end = false;
    let n = 0;
    const lines = createInterface({ input: createReadStream(file!), crlfDelay: Infinity });
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      // The header, cursors and trailer are the stream's, not records: checked here, not posted.
      const type = /^\{"type":"(header|cursor|end)"/.exec(line)?.[1];
      if (type === "header") {
        const h = JSON.parse(line) as { format?: string; version?: number };
        if (h.format !== "edgemem-export" || h.version !== 1)
          fail(`line ${n}: not an edgemem-export version 1 file (format ${h.format}, version ${h.version})`, 2);
        header = true;
      } else if (type === "end") end = true;
      else if (!type) yield { text: line, from: `line ${n}` };
    }
    if (header && !end)
      console.error("import: the file has no end line: the export was cut short (importing what it holds)");
    return;
  }
  const text = readFileSync(file!, "utf8");
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // Not one JSON document: JSON Lines, one memory (or list) per line.
    let n = 0;
    for (const line of text.split("\n")) {
      n++;
      if (line.trim()) yield { text: line, from: `line ${n}` };
    }
    return;
  }
  const wrapped = document as { results?: unknown; memories?: unknown };
  const list = Array.isArray(document)
    ? document
    : Array.isArray(wrapped?.results)
      ? wrapped.results
      : Array.isArray(wrapped?.memories)
        ? wrapped.memories
        : [document];
  for (const [i, item] of (list as unknown[]).entries()) yield { text: JSON.stringify(item), from: `item ${i}` };
}

const totals = { imported: {} as Counts, unchanged: {} as Counts };
const failures: string[] = [];
let failed = 0;
let part: { text: string; from: string }[] = [];
let partBytes = 0;
let parts = 0;

async function flush(): Promise<void> {
  if (!part.length) return;
  const sent = part;
  part = [];
  partBytes = 0;
  let result = await post(sent.map((r) => r.text).join("\n"));
  // A request takes at most so many records (a line may hold a list): the rest of the part again.
  let rest = sent;
  while (result.stopped_at_line !== null) {
    report(rest.slice(0, result.stopped_at_line - 1), result);
    rest = rest.slice(result.stopped_at_line - 1);
    result = await post(rest.map((r) => r.text).join("\n"));
  }
  report(rest, result);
}

function report(sent: { text: string; from: string }[], result: ImportResult): void {
  parts++;
  for (const key of ["imported", "unchanged"] as const)
    for (const [kind, n] of Object.entries(result[key])) totals[key][kind] = (totals[key][kind] ?? 0) + n;
  failed += result.failed;
  for (const e of result.errors)
    failures.push(`${sent[e.line - 1]?.from ?? `line ${e.line}`}: ${e.field ? `${e.field}: ` : ""}${e.error}`);
  const brief = (c: Counts) =>
    Object.entries(c)
      .filter(([, n]) => n)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "nothing";
  console.log(
    `part ${parts} (${sent[0]!.from} to ${sent.at(-1)!.from}): imported ${brief(result.imported)}; unchanged ${brief(result.unchanged)}; failed ${result.failed}`,
  );
}

for await (const record of records()) {
  const bytes = Buffer.byteLength(record.text) + 1;
  if (part.length >= perPart || partBytes + bytes > MAX_PART_BYTES) await flush();
  part.push(record);
  partBytes += bytes;
}
await flush();

console.log(`imported: ${JSON.stringify(totals.imported)}`);
console.log(`unchanged: ${JSON.stringify(totals.unchanged)}`);
if (failed) {
  console.log(`failed: ${failed}`);
  for (const f of failures) console.log(`  ${f}`);
  process.exit(1);
}
