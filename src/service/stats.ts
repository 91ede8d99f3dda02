import type { Principal } from "../domain/principal.ts";
import type { Stats } from "../domain/stats.ts";
import type { GraphStore, MaintenanceStore } from "./ports.ts";

export interface TenantStatsDeps {
  graphStore: Pick<GraphStore, "counts">;
  maintenanceStore: Pick<MaintenanceStore, "stats">;
  clock: () => number;
}

/** A tenant's statistics: memories, the knowledge graph, sessions, feedback, the vector index, consolidation. */
export class TenantStats {
  constructor(private readonly d: TenantStatsDeps) {}

  async get(p: Principal): Promise<Stats> {
    const [graph, rest] = await Promise.all([
      this.d.graphStore.counts(p.tenant),
      this.d.maintenanceStore.stats(p.tenant, this.d.clock()),
    ]);
    return {
      memories: rest.memories,
      entities: graph.entities,
      relations: { total: graph.relations, current: graph.current_relations },
      sessions: rest.sessions,
      feedback: rest.feedback,
      index: rest.index,
      last_consolidation: rest.last_consolidation,
      last_consolidation_result: rest.last_consolidation_result,
    };
  }
}
