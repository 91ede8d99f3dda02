import type { Memory } from "./memory.ts";

export type Rating = "positive" | "negative";

export interface FeedbackResult {
  feedback_id: string;
  memory: Memory;
  deleted: boolean;
}
