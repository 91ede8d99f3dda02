import * as z from "zod";
import { byteLength } from "../domain/ids.ts";
import { MAX_TENANT_BYTES } from "../domain/principal.ts";
import { formatIsoOrNull } from "../domain/stored-values.ts";
import { MAX_DRAIN_SECONDS, MOVE_PHASES, type MoveView, type TenantPlacementView } from "../domain/tenant-move.ts";

/** Wire schemas of the admin routes (tenant placement and moves between shards). */

export const tenantParams = z.object({
  tenant: z
    .string()
    .min(1)
    .refine((t) => byteLength(t) <= MAX_TENANT_BYTES, { message: `must be at most ${MAX_TENANT_BYTES} bytes` })
    .meta({ description: "The tenant (its token's tenant claim)." }),
});

export const moveBody = z.strictObject({
  to: z
    .string()
    .min(1)
    .max(64)
    .meta({ description: "The shard to move to: a D1 binding of the Worker (`DB`, `DB_SHARD_1`, …)." }),
  drain_seconds: z.number().int().min(0).max(MAX_DRAIN_SECONDS).optional().meta({
    description:
      "How long the source stays intact after the switch, while isolates' cached placements expire; at least PLACEMENT_TTL_SECONDS. Default: twice that.",
  }),
});

const tableCounts = z.record(z.string(), z.number().int().min(0));

export const moveOut = z
  .object({
    tenant: z.string(),
    from: z.string().nullable().meta({ description: "The shard the tenant leaves; null when it was on none." }),
    to: z.string(),
    phase: z.enum(MOVE_PHASES).meta({
      description:
        "fence → clear → copy → verify → switch → drain → purge → done; before the switch a failure or a cancel goes rollback → failed.",
    }),
    copied: tableCounts.meta({ description: "Rows copied, per table." }),
    checksums: z
      .record(z.string(), z.object({ rows: z.number().int().min(0), sha256: z.string() }))
      .meta({ description: "Verified tables: rows and SHA-256 of their canonical rows, equal on both shards." }),
    done: z.boolean().meta({ description: "Finished: phase done, or failed (see error)." }),
    retry_after_ms: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "Call again after this long (draining, or another caller is driving the move)." }),
    error: z.string().nullable(),
    started_at: z.string().nullable(),
    switched_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: "TenantMove" });

export const placementOut = z
  .object({
    tenant: z.string(),
    shard: z.string().nullable().meta({ description: "Where the tenant's records are; null: never seen." }),
    pinned: z.boolean().meta({ description: "Placed by an operator (a move) rather than by hashing." }),
    placed_at: z.string().nullable(),
    shards: z.array(z.string()).meta({ description: "The shards this deployment binds." }),
    move: moveOut.nullable().meta({ description: "The tenant's latest move, finished or not." }),
  })
  .meta({ id: "TenantPlacement" });

export function moveResponse(v: MoveView): z.input<typeof moveOut> {
  return {
    tenant: v.tenant,
    from: v.from,
    to: v.to,
    phase: v.phase,
    copied: v.copied,
    checksums: v.checksums,
    done: v.done,
    ...(v.retryAfterMs !== null ? { retry_after_ms: Math.max(0, Math.ceil(v.retryAfterMs)) } : {}),
    error: v.error,
    started_at: formatIsoOrNull(v.startedAt),
    switched_at: formatIsoOrNull(v.switchedAt),
    finished_at: formatIsoOrNull(v.finishedAt),
  };
}

export function placementResponse(v: TenantPlacementView): z.input<typeof placementOut> {
  return {
    tenant: v.tenant,
    shard: v.placement?.shard ?? null,
    pinned: v.placement?.pinned ?? false,
    placed_at: formatIsoOrNull(v.placement?.placedAt ?? null),
    shards: [...v.shards],
    move: v.move ? moveResponse(v.move) : null,
  };
}
