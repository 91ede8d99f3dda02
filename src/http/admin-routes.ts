import { route, type AppRouter } from "./handler.ts";
import { moveBody, moveOut, moveResponse, placementOut, placementResponse, tenantParams } from "../wire/admin.ts";

/**
 * Operating the deployment: where a tenant lives, and moving it to another shard (the engine of
 * `npm run tenant:move`). The tenant is the path's, not the token's: these need memory:admin.
 */
export function adminRoutes(r: AppRouter): void {
  const tag = "Admin (edgemem)";

  route(
    r,
    {
      method: "get",
      path: "/v1/admin/tenants/:tenant",
      operationId: "getTenantPlacement",
      tag,
      summary: "Where a tenant lives",
      description:
        "The shard the directory names for the tenant (null if it was never seen), the shards bound, and the tenant's latest move.",
      auth: "admin",
      params: tenantParams,
      response: placementOut,
    },
    async (c, { params }) => placementResponse(await c.app.moves.describe(params.tenant)),
  );

  route(
    r,
    {
      method: "post",
      path: "/v1/admin/tenants/:tenant/move",
      operationId: "moveTenant",
      tag,
      summary: "Move a tenant to another shard (one step)",
      description:
        "Starts the move, or continues the one in progress, for a few seconds of work, and answers where it stands: call again (after `retry_after_ms` when given) until `done`. The tenant's writes answer 503 with Retry-After from the start until the switch; reads keep working. Moving a tenant to the shard it is on answers `done` at once and changes nothing.",
      auth: "admin",
      params: tenantParams,
      body: moveBody,
      response: moveOut,
      errors: {
        "409": "A move of the tenant to another shard is in progress, or the shards' schemas differ.",
      },
    },
    async (c, { params, body }) => moveResponse(await c.app.moves.move(params.tenant, body.to, body.drain_seconds)),
  );

  route(
    r,
    {
      method: "delete",
      path: "/v1/admin/tenants/:tenant/move",
      operationId: "cancelTenantMove",
      tag,
      summary: "Cancel a tenant's move (one step)",
      description:
        "Rolls back a move that has not switched yet: the source takes writes again at once and the target's copy is deleted. Call again until `done` (phase `failed`, error `cancelled`).",
      auth: "admin",
      params: tenantParams,
      response: moveOut,
      errors: { "409": "No move of the tenant is in progress, or it has switched (move it back instead)." },
    },
    async (c, { params }) => moveResponse(await c.app.moves.cancel(params.tenant)),
  );
}
