import { AppError } from "../domain/errors.ts";
import { MAX_IMPORT_BYTES, MAX_IMPORT_RECORDS, MAX_LINE_BYTES, NDJSON, type ExportLine } from "../domain/export.ts";
import { exportLine, exportQuery, importItems, importQuery, importResponse } from "../wire/export.ts";
import { readLines } from "../wire/ndjson.ts";
import { route, type AppRouter } from "./handler.ts";

/** Export and import of a tenant (`edgemem-export` JSON Lines; mem0 and AMS files in). */
export function exportRoutes(r: AppRouter): void {
  const tag = "Export and import";

  route(
    r,
    {
      method: "get",
      path: "/v1/export",
      operationId: "exportTenant",
      tag,
      summary: "Export the tenant as JSON Lines",
      description:
        "Streams the token's tenant as `edgemem-export` version 1 (`application/x-ndjson`): a `header` line, then `memory`, `history`, `entity`, `relation`, `session` and `feedback` records in that order (each kind in key order, times in epoch ms), a `cursor` line after every page of 100, and an `end` line with the counts (without it the stream was cut short). Pass a `cursor` line's value as `cursor` to resume right after it. Read page by page as the client reads: any size streams. Not a snapshot: records written during the export may or may not be in it. Vectors are not exported (an import re-embeds).",
      auth: "read",
      query: exportQuery,
      response: exportLine,
      linesResponse: true,
    },
    async (c, { query }) => {
      const lines = c.app.exports.lines(c.principal, query.cursor ?? null);
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const next = await lines.next();
            if (next.done) controller.close();
            else controller.enqueue(encoder.encode(`${JSON.stringify(next.value satisfies ExportLine)}\n`));
          },
          async cancel() {
            await lines.return(undefined);
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, {
        headers: {
          "content-type": NDJSON,
          "content-disposition": `attachment; filename="edgemem-export.jsonl"`,
        },
      });
    },
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/import",
      operationId: "importTenant",
      tag,
      summary: "Import JSON Lines into the tenant",
      description: `Reads the body as it arrives, one JSON value per line: an export of this server (\`format=edgemem\`, the default), or mem0 or Agent Memory Server memories (\`format=mem0|ams\`; a line may hold one memory, a list, or \`{results|memories: [...]}\`). Every line is validated on its own: a bad line is reported (\`errors\`: line, error, field) and the others still import. Each record is written whole or not at all, with its id kept; a record already stored identically is \`unchanged\` (importing the same file twice changes nothing), one stored with other content is an error, never overwritten. Memories are re-embedded and searchable at once, and announced as \`memory_created\` events. At most ${MAX_IMPORT_RECORDS} records per request (\`stopped_at_line\` says where to go on from), lines of at most ${MAX_LINE_BYTES} bytes, bodies of at most ${MAX_IMPORT_BYTES} bytes: the CLI, \`npm run import\`, posts large files in parts.`,
      auth: "write",
      query: importQuery,
      linesBody: exportLine,
      response: importResponse,
    },
    async (c, { query }) => {
      if (Number(c.req.headers.get("content-length") ?? "0") > MAX_IMPORT_BYTES)
        throw new AppError("payload_too_large", `request body exceeds ${MAX_IMPORT_BYTES} bytes`);
      const lines = readLines(c.req.body, MAX_LINE_BYTES, MAX_IMPORT_BYTES);
      const items = importItems(lines, query.format, Date.now(), query.namespace);
      return c.app.exports.import(c.principal, items);
    },
  );
}
