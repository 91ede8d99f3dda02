import * as z from "zod";
import { ENTITY_TYPES, type Extraction, type TokenUsage } from "../domain/extract.ts";
import { MEMORY_TYPES } from "../domain/memory.ts";
import { packInOrder } from "../domain/pack.ts";
import { ABSTAIN_ANSWER } from "../domain/relevance.ts";
import { fitLines, sentences } from "../domain/summarize.ts";
import { modelInfo } from "../domain/tokens.ts";
import {
  LlmError,
  type AnswerRequest,
  type ChatMessage,
  type ChatModel,
  type LlmProvider,
  type SummaryRequest,
} from "./llm.ts";

const relation = z.object({
  subject: z.string().min(1),
  predicate: z.string().min(1).max(64),
  object: z.string().min(1),
});
const memory = z.object({
  text: z.string().min(1).max(2000),
  memory_type: z.enum(MEMORY_TYPES),
  topics: z.array(z.string().min(1).max(100)).max(20).default([]),
  entities: z.array(z.string().min(1).max(200)).max(50).default([]),
  relations: z.array(relation).max(20).default([]),
  supersedes: z.array(z.string().min(1).max(64)).max(20).default([]),
});
const entity = z.object({ name: z.string().min(1).max(200), type: z.enum(ENTITY_TYPES) });
const topic = z.string().min(1).max(100);
const MAX_MEMORIES = 200;
const MAX_ENTITIES = 200;
const MAX_TOPICS = 50;
/** The structured output asked of the model for extraction; anything else is refused. */
const extractionSchema = z.object({
  memories: z.array(memory).max(MAX_MEMORIES),
  entities: z.array(entity).max(MAX_ENTITIES).default([]),
  topics: z.array(topic).max(MAX_TOPICS).default([]),
});
/** The output's outline, for the last attempt: its items are then checked one by one. */
const extractionOutline = z.object({
  memories: z.array(z.unknown()),
  entities: z.array(z.unknown()).default([]),
  topics: z.array(z.unknown()).default([]),
});
const EXTRACTION_JSON_SCHEMA = JSON.stringify(z.toJSONSchema(extractionSchema, { io: "input" }));

const EXTRACT_SYSTEM = [
  "You extract long-term memories from a conversation for an AI assistant's memory.",
  "Keep only what is worth remembering later: facts, decisions, preferences, todos, events.",
  "Each memory is one self-contained statement. Name entities (people, organizations, technologies,",
  "products, places, dates) and relations (subject, predicate in snake_case, object); 'I' in the",
  "user's messages is the given speaker. When a memory makes one of the speaker's known memories no longer",
  "true (the same thing now has another value: a new tool, city, employer, role, deadline, preference),",
  "list that known memory's id in its `supersedes`; never for memories that can both be true.",
  "Answer with one JSON object matching this JSON Schema, nothing else:",
].join(" ");

const MERGE_SYSTEM = [
  "These statements from an assistant's memory say nearly the same thing; the first is the newest.",
  "Write one statement that says it, keeping every name, number and date, preferring the newest where",
  "they differ. Answer with the statement only.",
].join(" ");

const ANSWER_SYSTEM = [
  "Answer the question using only the memories and facts given. Cite every memory you use by its id",
  "in square brackets, like [01J...]. If the memories and facts given do not contain the answer, answer",
  `exactly "${ABSTAIN_ANSWER}" and nothing else, citing nothing. Be brief.`,
].join(" ");

const SUMMARY_SYSTEM = (maxTokens: number) =>
  [
    "You maintain the running summary of a conversation between a user and an AI assistant; the summary",
    "replaces the older messages in the assistant's memory. Merge the previous summary and the new messages",
    "into one updated summary. Keep every name, number, date, decision, preference, commitment and open",
    "question, attributed to who said it; drop greetings and filler. Write plain, compact sentences with no",
    `preamble or commentary. Stay under ${maxTokens} tokens.`,
  ].join(" ");

/** Tokens reserved for the instructions and the previous summary's framing in each request. */
const PROMPT_OVERHEAD = 512;
/**
 * Assumed when the summarizing model's window is unknown, and for Workers AI models, which are
 * often served with a smaller window than the model's own (LLM_CONTEXT_WINDOW overrides).
 */
const DEFAULT_MODEL_WINDOW = 8_000;

/** An LlmProvider that prompts a chat model (Workers AI or an OpenAI-compatible endpoint). */
export class ChatLlm implements LlmProvider {
  readonly name: string;
  readonly judgesContradictions = true;
  private readonly window: number;

  /** `window`: the chat model's context window in tokens, when known better than by its name. */
  constructor(
    private readonly chat: ChatModel,
    model: string,
    window?: number,
  ) {
    this.name = chat.name;
    this.window = window ?? (model.startsWith("@cf/") ? null : modelInfo(model)?.window) ?? DEFAULT_MODEL_WINDOW;
  }

  /**
   * Summarizes in as many rounds as the model's window needs: each round folds the next chunk
   * of messages into the summary so far, so no message is dropped unsummarized.
   */
  async summarize(req: SummaryRequest): Promise<string> {
    const inputBudget = Math.max(1024, this.window - req.maxTokens * 2 - PROMPT_OVERHEAD);
    let summary = req.previous?.trim() || null;
    for (const chunk of chunks(req.messages, inputBudget, req.count)) {
      const transcript = chunk.join("\n");
      const out = await this.chat.complete(
        [
          { role: "system", content: SUMMARY_SYSTEM(req.maxTokens) },
          { role: "user", content: `Previous summary:\n${summary ?? "(none)"}\n\nNew messages:\n${transcript}` },
        ],
        { maxTokens: req.maxTokens, temperature: 0.2 },
      );
      const text = out.trim();
      if (!text) throw new LlmError(`${this.name} returned an empty summary`, "malformed", false);
      summary = req.count(text) <= req.maxTokens ? text : fitLines(sentences(text), req.maxTokens, req.count);
    }
    return summary ?? "";
  }

  async *answer(req: AnswerRequest): AsyncGenerator<string> {
    const memories = req.memories.map((m) => `[${m.id}] ${m.text}`).join("\n") || "(none)";
    const facts = req.facts.map((f) => `- ${f}`).join("\n") || "(none)";
    yield* this.chat.stream(
      [
        { role: "system", content: ANSWER_SYSTEM },
        { role: "user", content: `Memories:\n${memories}\n\nFacts:\n${facts}\n\nQuestion: ${req.question}` },
      ],
      { temperature: 0.2, maxTokens: 512 },
    );
  }

  async merge(texts: string[]): Promise<string | null> {
    const out = await this.chat.complete(
      [
        { role: "system", content: MERGE_SYSTEM },
        { role: "user", content: texts.map((t, i) => `${i + 1}. ${t}`).join("\n") },
      ],
      { temperature: 0, maxTokens: 256 },
    );
    return out.trim() || null;
  }

  /**
   * Structured extraction: the model's JSON is validated by zod; invalid output is retried once
   * with the validation error. If the retry is still invalid but has the right outline (a
   * `memories` array), its valid items are kept and each invalid one is dropped with the reason;
   * otherwise the failure is reported. Nothing half-parsed is ever returned. `usage` sums the
   * tokens of every attempt.
   */
  async extract(
    messages: { role: string; content: string }[],
    speaker: string,
    known: readonly { id: string; text: string }[] = [],
  ): Promise<Extraction> {
    const transcript = messages.map((m) => `${m.role}: ${m.content}`).join("\n");
    const memories = known.length ? `\n\nKnown memories:\n${known.map((m) => `[${m.id}] ${m.text}`).join("\n")}` : "";
    const prompt: ChatMessage[] = [
      { role: "system", content: `${EXTRACT_SYSTEM}\n${EXTRACTION_JSON_SCHEMA}` },
      { role: "user", content: `Speaker: ${speaker}${memories}\n\nConversation:\n${transcript}` },
    ];
    let usage: TokenUsage | null = null;
    const onUsage = (u: TokenUsage) => {
      usage = {
        prompt_tokens: (usage?.prompt_tokens ?? 0) + u.prompt_tokens,
        completion_tokens: (usage?.completion_tokens ?? 0) + u.completion_tokens,
        total_tokens: (usage?.total_tokens ?? 0) + u.total_tokens,
      };
    };
    let problem = "";
    for (let attempt = 0; attempt < 2; attempt++) {
      const out = await this.chat.complete(prompt, { temperature: 0, maxTokens: 2048, onUsage });
      const json = parseJson(out);
      const parsed = extractionSchema.safeParse(json);
      if (parsed.success) return { ...parsed.data, dropped: [], usage };
      const lenient = attempt === 1 ? itemByItem(json) : null;
      if (lenient) return { ...lenient, usage };
      problem = issueOf(parsed.error);
      prompt.push(
        { role: "assistant", content: out },
        { role: "user", content: `That is not valid (${problem}). Answer again with only the JSON object.` },
      );
    }
    throw new LlmError(`${this.name} returned invalid extraction output twice (${problem})`, "malformed", false);
  }
}

/** The first validation issue, as `path: message`. */
function issueOf(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join(".") || "output"}: ${issue.message}` : "not JSON";
}

/**
 * An extraction from output with the right outline but invalid items: valid items kept (up to the
 * limits), each invalid memory dropped with what failed, invalid entities and topics left out.
 * Null when even the outline is wrong.
 */
function itemByItem(json: unknown): Omit<Extraction, "usage"> | null {
  const outline = extractionOutline.safeParse(json);
  if (!outline.success) return null;
  const memories: Extraction["memories"] = [];
  const dropped: Extraction["dropped"] = [];
  for (const item of outline.data.memories) {
    const m = memory.safeParse(item);
    if (!m.success) dropped.push({ text: itemText(item), reason: "invalid", detail: issueOf(m.error) });
    else if (memories.length >= MAX_MEMORIES) dropped.push({ text: m.data.text, reason: "over_limit" });
    else memories.push(m.data);
  }
  const valid = <T>(items: unknown[], schema: z.ZodType<T>, max: number): T[] =>
    items
      .flatMap((i) => {
        const r = schema.safeParse(i);
        return r.success ? [r.data] : [];
      })
      .slice(0, max);
  return {
    memories,
    entities: valid(outline.data.entities, entity, MAX_ENTITIES),
    topics: valid(outline.data.topics, topic, MAX_TOPICS),
    dropped,
  };
}

/** What an invalid item said: its text when it has one, else the item itself (cut short). */
function itemText(item: unknown): string {
  const text = typeof item === "object" && item !== null ? (item as { text?: unknown }).text : undefined;
  return (typeof text === "string" && text ? text : (JSON.stringify(item) ?? String(item))).slice(0, 2000);
}

/** JSON from a model's answer, tolerating a Markdown code fence around it. */
function parseJson(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  try {
    return JSON.parse((fenced ? fenced[1]! : text).trim());
  } catch {
    return undefined;
  }
}

/** `role: content` lines grouped so each group stays within `budget` tokens (a longer message is cut). */
function chunks(messages: SummaryRequest["messages"], budget: number, count: (s: string) => number): string[][] {
  const lines = messages.map((m) => {
    const line = `${m.role}: ${m.content}`;
    const cost = count(line);
    if (cost <= budget) return { line, cost };
    const cut = fitLines([line], budget, count);
    return { line: cut, cost: count(cut) };
  });
  return packInOrder(lines, (l) => l.cost, budget).map((group) => group.map((l) => l.line));
}
