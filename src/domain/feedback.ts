import type { Memory } from "./memory.ts";

export type Rating = "positive" | "negative";

/** One feedback as recorded, with the memory's confidence before and after it. */
export interface FeedbackRecord {
  id: string;
  memory_id: string;
  rating: Rating;
  comment: string | null;
  actor: string;
  at: number;
  confidence_before: number;
  confidence_after: number;
}

export interface FeedbackResult {
  feedback_id: string;
  memory: Memory;
  deleted: boolean;
}

/** How far one feedback moves a memory's confidence and priority (engram's rules). */
export const FEEDBACK_EFFECT: Record<Rating, { confidence: number; priority: number }> = {
  positive: { confidence: 0.15, priority: 1 },
  negative: { confidence: -0.2, priority: -1 },
};

/**
 * A memory's confidence and priority after one feedback: moved by {@link FEEDBACK_EFFECT}, confidence
 * kept in [0, 1] (two decimals) and priority in [1, 10].
 */
export function afterFeedback(
  m: Pick<Memory, "confidence" | "priority">,
  rating: Rating,
): { confidence: number; priority: number } {
  const effect = FEEDBACK_EFFECT[rating];
  return {
    confidence: Math.round(Math.min(1, Math.max(0, m.confidence + effect.confidence)) * 100) / 100,
    priority: Math.min(10, Math.max(1, m.priority + effect.priority)),
  };
}

/**
 * Whether a negative feedback deletes its memory: once it has `deleteAfter` negatives (this one
 * included) and its confidence has fallen below `threshold`.
 */
export function deletedByFeedback(
  rating: Rating,
  negatives: number,
  confidence: number,
  limits: { deleteAfter: number; threshold: number },
): boolean {
  return rating === "negative" && negatives >= limits.deleteAfter && confidence < limits.threshold;
}
