/** A tenant's statistics. */
export interface Stats {
  memories: { total: number; by_type: Record<string, number> };
  entities: number;
  relations: { total: number; current: number };
  sessions: number;
  feedback: number;
  index: { pending: number; sent: number; indexed: number };
  last_consolidation: number | null;
  last_consolidation_result: Record<string, unknown> | null;
}

/** The statistics outside the knowledge graph, as storage counts them. */
export type StoredCounts = Omit<Stats, "entities" | "relations">;

/** The knowledge graph's counts. */
export interface GraphCounts {
  entities: number;
  relations: number;
  current_relations: number;
}
