import { AppError } from "../domain/errors.ts";
import { errorMessage } from "../log.ts";
import { amsRecord } from "./ams-schemas.ts";
import { read, write, type AppRouter } from "./handler.ts";
import {
  feedbackBody,
  graphQueryBody,
  graphResponse,
  ingestBody,
  ingestResponse,
  statsResponse,
  thinkBody,
  thinkRequest,
  thinkResponse,
  thinkSources,
} from "./knowledge-schemas.ts";
import { json, readJson } from "./respond.ts";

/** edgemem's cognitive layer over REST: ingest, the knowledge graph, think, feedback, status, consolidation. */
export function knowledgeRoutes(r: AppRouter): void {
  r.post(
    "/v1/ingest",
    write(async (c) => {
      const body = await readJson(c.req, ingestBody, c.app.config.MAX_BODY_BYTES);
      return json(ingestResponse(await c.app.knowledge.ingest(c.principal, body.messages, body)));
    }),
  );

  r.post(
    "/v1/graph/query",
    read(async (c) => {
      const body = await readJson(c.req, graphQueryBody, c.app.config.MAX_BODY_BYTES);
      const res = await c.app.knowledge.query(c.principal, { query: body.query, hops: body.hops, history: body.include_history, limit: body.limit });
      return json(graphResponse(res));
    }),
  );

  r.post(
    "/v1/think",
    read(async (c) => {
      const body = await readJson(c.req, thinkBody, c.app.config.MAX_BODY_BYTES);
      const res = await c.app.knowledge.think(c.principal, thinkRequest(body));
      if (!body.stream) return json(await thinkResponse(res));
      const tail = thinkSources(res);
      // Server-sent events: one `token` event per chunk, then `done` with the citations.
      const encoder = new TextEncoder();
      const log = c.app.log;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (data: unknown) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`));
          try {
            for await (const token of res.answer) send({ token });
            send({ done: true, ...tail });
          } catch (e) {
            // Headers are sent: the failure becomes the stream's last event.
            const err = e instanceof AppError ? e : null;
            if (!err) log.error("think stream failed", { error: errorMessage(e) });
            send({ error: { code: err?.code ?? "internal_error", message: err?.message ?? "internal error" } });
          }
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    }),
  );

  r.post(
    "/v1/feedback",
    write(async (c) => {
      const body = await readJson(c.req, feedbackBody, c.app.config.MAX_BODY_BYTES);
      const rating = body.rating ?? (body.helpful ? "positive" : "negative");
      const res = await c.app.knowledge.feedback(c.principal, body.memory_id, rating, body.comment ?? null);
      return json({ feedback_id: res.feedback_id, memory: amsRecord(res.memory), deleted: res.deleted });
    }),
  );

  r.get(
    "/v1/status",
    read(async (c) => json(statsResponse(await c.app.knowledge.stats(c.principal)))),
  );

  r.post(
    "/v1/consolidate",
    write(async (c) => json(await c.app.knowledge.consolidate(c.principal.tenant))),
  );
}
