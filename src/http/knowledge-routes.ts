import { canWrite } from "../auth/jwt.ts";
import { asAppError } from "../domain/errors.ts";
import { FEEDBACK_EFFECT } from "../domain/feedback.ts";
import { errorMessage } from "../log.ts";
import { route, type AppRouter } from "./handler.ts";
import {
  consolidationOut,
  feedbackBody,
  feedbackOut,
  feedbackResponse,
  graphOut,
  graphQueryBody,
  ingestBody,
  ingestOut,
  ingestOptionsOf,
  ingestResponse,
  graphRequest,
  graphResponse,
  ratingOf,
  statsOut,
  statsResponse,
  thinkBody,
  thinkEvent,
  thinkOut,
  thinkRequest,
  thinkResponse,
  thinkSources,
  whoamiOut,
} from "../wire/knowledge.ts";

const { positive, negative } = FEEDBACK_EFFECT;

/** edgemem's cognitive layer over REST: ingest, the knowledge graph, think, feedback, status, consolidation. */
export function knowledgeRoutes(r: AppRouter): void {
  const tag = "Knowledge (edgemem)";

  route(
    r,
    {
      method: "post",
      path: "/v1/ingest",
      operationId: "ingest",
      tag,
      summary: "Extract memories from chat messages",
      description:
        "Stores what is worth keeping (typed memories), with the entities, relations and topics found. Uses the configured LLM, or the offline extractor.",
      auth: "write",
      body: ingestBody,
      response: ingestOut,
    },
    async (c, { body }) =>
      ingestResponse(await c.app.graph.ingest(c.principal, body.messages, body, ingestOptionsOf(body))),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/graph/query",
      operationId: "queryKnowledgeGraph",
      tag,
      summary: "Query the knowledge graph",
      description:
        "Entities by name or alias, their relations, neighbours up to `hops` away, and the memories that mention them. namespace and user_id narrow all of it: a relation shows only if a memory that stated it passes them.",
      auth: "read",
      body: graphQueryBody,
      response: graphOut,
    },
    async (c, { body }) => graphResponse(await c.app.graph.query(c.principal, graphRequest(body))),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/think",
      operationId: "think",
      tag,
      summary: "Answer a question from memory",
      description:
        "Answers from the relevant memories and graph facts, citing memory ids. With `stream: true` the answer is server-sent events.",
      auth: "read",
      body: thinkBody,
      response: thinkOut,
      events: thinkEvent,
    },
    async (c, { body }) => {
      const res = await c.app.think.think(c.principal, thinkRequest(body));
      if (!body.stream) return thinkResponse(res);
      // Server-sent events: one `token` event per chunk, then `done` with the citations.
      const encoder = new TextEncoder();
      const log = c.app.log;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (data: unknown) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`));
          try {
            for await (const token of res.answer) send({ token });
            send({ done: true, ...thinkSources(res) });
          } catch (e) {
            // Headers are sent: the failure becomes the stream's last event.
            const err = asAppError(e);
            if (!err) log.error("think stream failed", { error: errorMessage(e) });
            send({ error: { code: err?.code ?? "internal_error", message: err?.message ?? "internal error" } });
          }
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/feedback",
      operationId: "feedback",
      tag,
      summary: "Rate a memory",
      description: `Positive feedback raises confidence (+${positive.confidence}) and priority (+${positive.priority}), negative lowers them (${negative.confidence}, ${negative.priority}); under the threshold the memory is deleted.`,
      auth: "write",
      body: feedbackBody,
      response: feedbackOut,
    },
    async (c, { body }) =>
      feedbackResponse(
        await c.app.feedback.feedback(c.principal, body.memory_id, ratingOf(body), body.comment ?? null),
      ),
  );

  route(
    r,
    {
      method: "get",
      path: "/v1/status",
      operationId: "status",
      tag,
      summary: "Memory statistics of the tenant",
      auth: "read",
      response: statsOut,
    },
    async (c) => statsResponse(await c.app.stats.get(c.principal)),
  );

  route(
    r,
    {
      method: "get",
      path: "/v1/whoami",
      operationId: "whoami",
      tag,
      summary: "Who the token is",
      description:
        "The tenant and subject the request is served as, its scopes and whether it may write. With AUTH_MODE=none, no token is needed and the tenant is `default`; the explorer asks this first.",
      auth: "read",
      response: whoamiOut,
    },
    async (c) => ({
      tenant: c.principal.tenant,
      subject: c.principal.subject,
      scopes: c.principal.scopes,
      can_write: canWrite(c.principal),
      auth_mode: c.app.config.AUTH_MODE,
    }),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/consolidate",
      operationId: "consolidate",
      tag,
      summary: "Consolidate now",
      description:
        "Merges near-duplicate memories, purges expired ones and runs the forget policy when configured (the Cron Trigger does this on a schedule).",
      auth: "write",
      response: consolidationOut,
    },
    async (c) => c.app.consolidation.consolidate(c.principal.tenant),
  );
}
