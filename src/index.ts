import { buildDeps, buildSweeps, type AppDeps } from "./deps.ts";
import { preflight, withCors } from "./http/cors.ts";
import { handleHttp } from "./http/routes.ts";
import { errorMessage } from "./log.ts";
import { BOOKMARK_HEADER } from "./wire/http.ts";
import { upgrade } from "./realtime/upgrade.ts";

export { TenantHub } from "./realtime/tenant-hub.ts";

async function route(request: Request, deps: AppDeps): Promise<Response> {
  // The MCP SDK is loaded only when MCP is used: the REST paths never evaluate it.
  if (new URL(request.url).pathname === "/mcp") return (await import("./mcp/server.ts")).serveMcp(request, deps);
  return handleHttp(request, deps);
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    let deps;
    try {
      deps = buildDeps(env, ctx);
    } catch (e) {
      // A deployment mistake (e.g. AUTH_MODE=jwt without a key): say so in the log, not on the wire.
      console.error(JSON.stringify({ level: "error", msg: "configuration error", error: errorMessage(e) }));
      const message = "server misconfigured";
      return Response.json({ error: "internal_error", message, detail: message }, { status: 500 });
    }
    // Upgrades go to the tenant's hub before the router (itty-router hands handlers a proxy).
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return upgrade(request, env, deps);
    // Read-your-writes: the bookmark a client got from an earlier answer (header, or query for
    // clients that cannot set headers); every answer that touched D1 carries the newest one.
    deps.databases.atLeast(request.headers.get(BOOKMARK_HEADER) ?? new URL(request.url).searchParams.get("bookmark"));
    const origins = deps.config.CORS_ORIGINS;
    let answer = preflight(request, origins) ?? (await route(request, deps));
    // A write met a tenant move's fence: the client's retry must not trust this isolate's placement.
    if (answer.status === 503) deps.databases.forgetPlacements();
    const bookmark = deps.databases.bookmark();
    if (bookmark) {
      answer = new Response(answer.body, answer);
      answer.headers.set(BOOKMARK_HEADER, bookmark);
    }
    return withCors(request, answer, origins);
  },

  /**
   * Cron Trigger: purge expired memories and sessions, re-embed, retry and confirm vector-index
   * sync, consolidate near-duplicates (and run the forget policy when configured).
   */
  async scheduled(_controller, env, ctx): Promise<void> {
    // Each shard is swept on its own primary, one after the other.
    for (const { shard, deps } of buildSweeps(env, ctx)) {
      const { upkeep, sessions, consolidation, log } = deps;
      const result = await upkeep.upkeep();
      const sessionsPurged = await sessions.purgeExpired().catch((e: unknown) => {
        log.error("upkeep: session purge failed", { shard, error: errorMessage(e) });
        return 0;
      });
      const consolidated = await consolidation.consolidateAll();
      log.info("upkeep done", { shard, ...result, sessionsPurged, consolidation: consolidated });
    }
  },
} satisfies ExportedHandler<Env>;
