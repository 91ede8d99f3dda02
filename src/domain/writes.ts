import type { EntityType } from "./extract.ts";
import type { FeedbackRecord } from "./feedback.ts";
import type { Memory } from "./memory.ts";

/** What a memory write does to its vector row. */
export type VectorWrite =
  | { kind: "set"; model: string; vector: Float32Array }
  /** Same vector, new index metadata (namespace, user, session or type changed). */
  | { kind: "refresh" }
  | { kind: "keep" }
  | { kind: "drop" };

/**
 * A new version of a memory. `before` is the row as read (null: the id was free, or held by an
 * expired memory); the write applies only if the row is still that. `audit: false` skips the
 * history row (re-embedding is not a change of content).
 */
export type PutOp = {
  kind: "put";
  before: Memory | null;
  after: Memory;
  vector: VectorWrite;
  reason?: string;
  audit?: boolean;
};

/** A change to one memory, written atomically with its vector and history rows. */
export type WriteOp = PutOp | { kind: "delete"; before: Memory; reason?: string };

/** A relation an owner (namespace, user_id) states between two named entities, stated by a memory. */
export interface RelationRecord {
  subject: string;
  predicate: string;
  object: string;
  source_memory_id: string | null;
  confidence: number;
  namespace: string | null;
  user_id: string | null;
  /** Valid time of the fact (default: when it is recorded); a `valid_to` records it already closed. */
  valid_from?: number;
  valid_to?: number | null;
}

/**
 * What else a write records in the same transaction as its memories:
 * - `entities`: the entities exist (one per name in a tenant; a known name or alias resolves to its entity);
 * - `relation`: the relation holds (its entities ensured before it). A single-valued predicate
 *   closes the owner's current relation of the subject to any other object; the same fact again
 *   is not duplicated but gains the memory as another source. Owners never touch each other's relations;
 * - `feedback`: the feedback is recorded.
 */
export type WriteIntent =
  | { kind: "entities"; entities: { name: string; type: EntityType }[] }
  | { kind: "relation"; relation: RelationRecord; singleValued: boolean }
  | { kind: "feedback"; feedback: FeedbackRecord };

/** The intents the knowledge graph records on its own (feedback is written only with a memory's change). */
export type GraphIntent = Exclude<WriteIntent, { kind: "feedback" }>;
