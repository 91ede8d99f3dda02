import { AppError } from "./errors.ts";
import { fitLines, sentences } from "./summarize.ts";
import { messageTokens, REPLY_PRIMING_TOKENS, type TokenCounter } from "./tokens.ts";

/**
 * Token budgeting for working memory: when a session must be summarized, how much of it, and
 * how a prompt is packed into a context window. Pure; every count comes from a TokenCounter.
 */

/** A summary is never given fewer tokens than this (below it, there is no room to summarize). */
const MIN_SUMMARY_TOKENS = 16;
/** Nor more than this, however large the window: a summary is a summary. */
const MAX_SUMMARY_TOKENS = 2048;

export type SummarizationPlan =
  | { summarize: false; limit: number }
  /** Summarize all but the newest `keep` messages into at most `summaryTokens`. */
  | { summarize: true; limit: number; keep: number; summaryTokens: number };

/**
 * Decides whether a session's messages (their token counts, oldest first) must be summarized:
 * when they exceed `threshold` of the window, as AMS does. The newest messages are kept within
 * 4/7 of that limit (AMS's 40% of the window at its default 0.7) and the summary gets up to 2/7,
 * so a summarized session sits below the limit and the next write does not summarize again.
 * Throws a 422 when the window cannot hold even the newest message next to a summary.
 */
export function planSummarization(tokens: number[], window: number, threshold: number): SummarizationPlan {
  const limit = Math.floor(window * threshold);
  const total = tokens.reduce((a, b) => a + b, 0);
  if (total <= limit || tokens.length === 0) return { summarize: false, limit };
  const keepBudget = Math.floor((limit * 4) / 7);
  let keep = 0;
  let kept = 0;
  for (let i = tokens.length - 1; i >= 0 && kept + tokens[i]! <= keepBudget; i--) {
    kept += tokens[i]!;
    keep++;
  }
  if (keep === 0) {
    // The newest message alone is over the recent-messages share: keep it if it fits at all.
    const last = tokens.at(-1)!;
    if (last + MIN_SUMMARY_TOKENS > limit) {
      throw new AppError(
        "validation_error",
        `a context window of ${window} tokens (summarization at ${limit}) is too small to hold the last message (${last} tokens) next to a summary`,
        [{ field: "messages", message: `the last message (${last} tokens) does not fit the token budget (${limit})` }],
      );
    }
    keep = 1;
    kept = last;
  }
  const summaryTokens = Math.min(
    MAX_SUMMARY_TOKENS,
    Math.max(MIN_SUMMARY_TOKENS, Math.floor((limit * 2) / 7)),
    limit - kept,
  );
  return { summarize: true, limit, keep, summaryTokens };
}

export type ChatRole = "system" | "user" | "assistant";
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Stored roles as an LLM takes them: tool and function output reads as the assistant's. */
export function chatRole(role: string): ChatRole {
  if (role === "user") return "user";
  if (role === "system" || role === "developer") return "system";
  return "assistant";
}

export interface PromptInput {
  query: string;
  /** The session's summary of older messages. */
  summary: string | null;
  /** Long-term memories, best first; null when no long-term search was asked for. */
  memories: { id: string; text: string }[] | null;
  /** The session's messages, oldest first. */
  messages: { role: string; content: string }[];
  /** The user's profile as lines, most important first; absent or null when not asked for. */
  profile?: string[] | null;
}

export interface PackedPrompt {
  messages: ChatMessage[];
  /** Tokens of the whole prompt, reply priming included. */
  tokens: number;
  memoriesUsed: number;
  messagesUsed: number;
  summaryTruncated: boolean;
  /** Profile lines included (the first ones of `profile`). */
  profileUsed: number;
}

export const SUMMARY_HEADING = "## A summary of the conversation so far:";
export const MEMORIES_HEADING = "## Long term memories related to the user's query";
const NO_MEMORIES = "No relevant long-term memories found.";
export const PROFILE_HEADING = "## What is known about the user";

/**
 * Packs a prompt into `window` tokens: one system message (the session summary and the
 * long-term memories), the session's recent messages, then the query. The query must fit;
 * the summary may use up to a quarter of the rest and memories a third in a first pass, recent
 * messages take what remains newest first, and memories then fill any room left. What does not
 * fit is left out whole (the summary is cut by lines, oldest first). A profile, when given, comes
 * first in the system message: its lines take up to a sixth of the rest after the first pass of
 * memories (its heading paid with its first line), and any room left at the end; the query, the
 * summary and the memories' first pass go before it, and its lines are the first to give way
 * when the assembled prompt is over.
 */
export function packPrompt(input: PromptInput, window: number, counter: TokenCounter): PackedPrompt {
  const count = (s: string) => counter.count(s);
  const query: ChatMessage = { role: "user", content: input.query };
  const budget = window - REPLY_PRIMING_TOKENS;
  const queryCost = messageTokens(counter, query);
  if (queryCost > budget) {
    throw new AppError(
      "validation_error",
      `a context window of ${window} tokens is too small for the query (${queryCost} tokens)`,
      [{ field: "session.context_window_max", message: `too small for the query (${queryCost} tokens)` }],
    );
  }
  let room = budget - queryCost;

  const wantSummary = !!input.summary?.trim();
  const wantMemories = input.memories !== null;
  const wantProfile = !!input.profile?.length;
  const overhead =
    (wantSummary || wantMemories ? messageTokens(counter, { role: "system", content: "" }) : 0) +
    (wantSummary ? count(SUMMARY_HEADING) + 2 : 0) +
    (wantMemories ? count(MEMORIES_HEADING) + count(NO_MEMORIES) + 2 : 0);
  const system = overhead <= room;
  if (system) room -= overhead;
  const base = room;

  let summary = "";
  let summaryTruncated = false;
  if (system && wantSummary) {
    const full = input.summary!.trim();
    const cost = count(full);
    if (cost <= Math.floor(base / 4)) summary = full;
    else {
      summary = fitLines(sentences(full), Math.floor(base / 4), count);
      summaryTruncated = true;
    }
    room -= count(summary) + 1;
  }

  const memoryLines = (input.memories ?? []).map((m) => `- ${m.text} (ID: ${m.id})`);
  const memoryCosts = memoryLines.map((l) => count(l) + 1);
  let memoriesUsed = 0;
  const takeMemories = (cap: number) => {
    while (system && memoriesUsed < memoryLines.length && memoryCosts[memoriesUsed]! <= Math.min(cap, room)) {
      room -= memoryCosts[memoriesUsed]!;
      cap -= memoryCosts[memoriesUsed]!;
      memoriesUsed++;
    }
  };
  takeMemories(Math.floor(base / 3));

  // The profile's heading (and the system message, when nothing else opens one) is paid with its
  // first line, so a profile that does not fit costs the rest of the prompt nothing.
  const profileLines = input.profile ?? [];
  const profileOverhead =
    count(PROFILE_HEADING) +
    2 +
    (wantSummary || wantMemories ? 0 : messageTokens(counter, { role: "system", content: "" }));
  const profileCosts = profileLines.map((l, i) => count(l) + 1 + (i === 0 ? profileOverhead : 0));
  let profileUsed = 0;
  const takeProfile = (cap: number) => {
    while (system && profileUsed < profileLines.length && profileCosts[profileUsed]! <= Math.min(cap, room)) {
      room -= profileCosts[profileUsed]!;
      cap -= profileCosts[profileUsed]!;
      profileUsed++;
    }
  };
  takeProfile(Math.floor(base / 6));

  const recent: ChatMessage[] = [];
  for (let i = input.messages.length - 1; i >= 0; i--) {
    const m: ChatMessage = { role: chatRole(input.messages[i]!.role), content: input.messages[i]!.content };
    const cost = messageTokens(counter, m);
    if (cost > room) break;
    room -= cost;
    recent.unshift(m);
  }
  takeMemories(room);
  takeProfile(room);

  const build = (): ChatMessage[] => {
    const out: ChatMessage[] = [];
    if (system && (wantSummary || wantMemories || wantProfile)) {
      const sections: string[] = [];
      if (profileUsed) sections.push(`${PROFILE_HEADING}\n${profileLines.slice(0, profileUsed).join("\n")}`);
      if (wantSummary && summary) sections.push(`${SUMMARY_HEADING}\n${summary}`);
      if (wantMemories) {
        const lines = memoryLines.slice(0, memoriesUsed);
        sections.push(`${MEMORIES_HEADING}\n${lines.length ? lines.join("\n") : NO_MEMORIES}`);
      }
      // (Without a profile, the system message is pushed as it always was, even empty.)
      if (sections.length || !wantProfile) out.push({ role: "system", content: sections.join("\n\n") });
    }
    return [...out, ...recent, query];
  };
  const total = (ms: ChatMessage[]) => ms.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);

  // Per-part counts can differ from the joined text's by a token at a seam: verify, and give
  // back the least important part until the prompt fits.
  let messages = build();
  while (total(messages) > window) {
    if (profileUsed > 0) profileUsed--;
    else if (memoriesUsed > 0) memoriesUsed--;
    else if (recent.length) recent.shift();
    else if (summary) summary = fitLines(sentences(summary).slice(1), Math.floor(base / 4), count);
    else break;
    messages = build();
  }
  return {
    messages,
    tokens: total(messages),
    memoriesUsed,
    messagesUsed: recent.length,
    summaryTruncated,
    profileUsed,
  };
}
