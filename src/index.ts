import { buildDeps } from "./deps.ts";
import { handleHttp } from "./http/routes.ts";

export { TenantHub } from "./realtime/tenant-hub.ts";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    return handleHttp(request, buildDeps(env, ctx));
  },

  /** Cron Trigger: purge expired memories, re-embed, retry and confirm vector-index sync. */
  async scheduled(_controller, env, ctx): Promise<void> {
    const { service, log } = buildDeps(env, ctx);
    const result = await service.upkeep();
    log.info("upkeep done", result);
  },
} satisfies ExportedHandler<Env>;
