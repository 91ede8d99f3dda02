import type { Config } from "../config.ts";
import { afterFeedback, deletedByFeedback, type FeedbackResult, type Rating } from "../domain/feedback.ts";
import { newId } from "../domain/ids.ts";
import type { Memory } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import type { WriteIntent } from "../domain/writes.ts";
import type { Change, Memories } from "./memories.ts";
import type { FeedbackStore } from "./ports.ts";

export interface FeedbackDeps {
  memories: Memories;
  feedbackStore: FeedbackStore;
  config: Pick<Config, "FEEDBACK_DELETE_THRESHOLD" | "FEEDBACK_DELETE_AFTER">;
  clock: () => number;
}

/** Feedback on memories. */
export class Feedback {
  constructor(private readonly d: FeedbackDeps) {}

  /**
   * Feedback moves a memory's confidence and priority (domain/feedback.ts). After
   * FEEDBACK_DELETE_AFTER negatives, a memory whose confidence falls below
   * FEEDBACK_DELETE_THRESHOLD is deleted. The feedback row is written in the same transaction as
   * the change; `feedback_recorded` and the change's event are emitted.
   */
  async feedback(p: Principal, memoryId: string, rating: Rating, comment: string | null): Promise<FeedbackResult> {
    const id = newId(this.d.clock());
    let written: Memory | null = null;
    // Computed from the memory as it is when the write wins (retried from a fresh read otherwise),
    // so concurrent feedbacks add up and the feedback row's before/after are the history's.
    const res = await this.d.memories.change(p, memoryId, async (before, now): Promise<Change> => {
      const { confidence, priority } = afterFeedback(before, rating);
      const negatives =
        (await this.d.feedbackStore.negativeFeedback(p.tenant, memoryId)) + (rating === "negative" ? 1 : 0);
      const row: WriteIntent = {
        kind: "feedback",
        feedback: {
          id,
          memory_id: memoryId,
          rating,
          comment,
          actor: p.subject,
          at: now,
          confidence_before: before.confidence,
          confidence_after: confidence,
        },
      };
      const after = { ...before, confidence, priority, updated_at: now };
      written = after;
      // feedback_recorded goes out with (and just before) the change's own event, only if the write succeeds.
      const extras = {
        intents: [row],
        events: [{ type: "feedback_recorded" as const, at: now, memory: after, actor: p.subject, reason: rating }],
      };
      const limits = {
        deleteAfter: this.d.config.FEEDBACK_DELETE_AFTER,
        threshold: this.d.config.FEEDBACK_DELETE_THRESHOLD,
      };
      if (deletedByFeedback(rating, negatives, confidence, limits))
        return { kind: "delete", reason: `negative feedback (${negatives}×, confidence ${confidence})`, extras };
      return { kind: "update", patch: { confidence, priority }, reason: `${rating} feedback`, extras };
    });
    return { feedback_id: id, memory: res.deleted ? written! : res.memory, deleted: res.deleted };
  }
}
