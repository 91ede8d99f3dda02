import { buildDeps, type AppDeps } from "./deps.ts";
import { preflight, withCors } from "./http/cors.ts";
import { handleHttp } from "./http/routes.ts";
import { errorMessage } from "./log.ts";
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
    const origins = deps.config.CORS_ORIGINS;
    const answer = preflight(request, origins) ?? (await route(request, deps));
    return withCors(request, answer, origins);
  },

  /**
   * Cron Trigger: purge expired memories and sessions, re-embed, retry and confirm vector-index
   * sync, consolidate near-duplicates (and run the forget policy when configured).
   */
  async scheduled(_controller, env, ctx): Promise<void> {
    const { upkeep, sessions, consolidation, log } = buildDeps(env, ctx);
    const result = await upkeep.upkeep();
    const sessionsPurged = await sessions.purgeExpired().catch((e: unknown) => {
      log.error("upkeep: session purge failed", { error: errorMessage(e) });
      return 0;
    });
    const consolidated = await consolidation.consolidateAll();
    log.info("upkeep done", { ...result, sessionsPurged, consolidation: consolidated });
  },
} satisfies ExportedHandler<Env>;
