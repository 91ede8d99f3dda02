import type { Memory } from "./memory.ts";

export interface ConsolidationResult {
  checked: number;
  merged: number;
  removed: number;
  forgotten: number;
}

/** How far consolidation got: memories are visited in (updated_at, id) order. */
export interface ConsolidationCursor {
  at: number;
  id: string;
}

/** A cluster of near-duplicates in merge order: the newest (by update, then creation) first. */
export function newestFirst(cluster: Memory[]): Memory[] {
  return [...cluster].sort((a, b) => b.updated_at - a.updated_at || b.created_at - a.created_at);
}

/**
 * What a cluster (newest first) merges into: its newest memory with `text`, every topic and
 * entity of the cluster, its highest priority and confidence, pinned if any was, and the
 * earliest creation time.
 */
export function mergedMemory(cluster: Memory[], text: string, now: number): Memory {
  return {
    ...cluster[0]!,
    text,
    topics: [...new Set(cluster.flatMap((x) => x.topics))],
    entities: [...new Set(cluster.flatMap((x) => x.entities))],
    priority: Math.max(...cluster.map((x) => x.priority)),
    confidence: Math.max(...cluster.map((x) => x.confidence)),
    pinned: cluster.some((x) => x.pinned),
    created_at: Math.min(...cluster.map((x) => x.created_at)),
    updated_at: now,
  };
}
