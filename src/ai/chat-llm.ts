import * as z from "zod";
import { ENTITY_TYPES, type Extraction } from "../domain/extract.ts";
import { MEMORY_TYPES } from "../domain/memory.ts";
import { packInOrder } from "../domain/pack.ts";
import { PROFILE_KINDS, PROFILE_LIMITS, type ProfileSections } from "../domain/profile.ts";
import { ABSTAIN_ANSWER } from "../domain/relevance.ts";
import { fitLines, sentences } from "../domain/summarize.ts";
import { modelInfo } from "../domain/tokens.ts";
import {
  LlmError,
  type AnswerRequest,
  type ChatMessage,
  type ChatModel,
  type LlmProvider,
  type ProfileSummaryRequest,
  type SummaryRequest,
} from "./llm.ts";

const relation = z.object({
  subject: z.string().min(1),
  predicate: z.string().min(1).max(64),
  object: z.string().min(1),
});
/** The structured output asked of the model for extraction; anything else is refused. */
const extractionSchema = z.object({
  memories: z
    .array(
      z.object({
        text: z.string().min(1).max(2000),
        memory_type: z.enum(MEMORY_TYPES),
        topics: z.array(z.string().min(1).max(100)).max(20).default([]),
        entities: z.array(z.string().min(1).max(200)).max(50).default([]),
        relations: z.array(relation).max(20).default([]),
      }),
    )
    .max(200),
  entities: z
    .array(z.object({ name: z.string().min(1).max(200), type: z.enum(ENTITY_TYPES) }))
    .max(200)
    .default([]),
  topics: z.array(z.string().min(1).max(100)).max(50).default([]),
});
const EXTRACTION_JSON_SCHEMA = JSON.stringify(z.toJSONSchema(extractionSchema, { io: "input" }));

const EXTRACT_SYSTEM = [
  "You extract long-term memories from a conversation for an AI assistant's memory.",
  "Keep only what is worth remembering later: facts, decisions, preferences, todos, events.",
  "Each memory is one self-contained statement. Name entities (people, organizations, technologies,",
  "products, places, dates) and relations (subject, predicate in snake_case, object); 'I' in the",
  "user's messages is the given speaker. Answer with one JSON object matching this JSON Schema, nothing else:",
].join(" ");

const MERGE_SYSTEM = [
  "These statements from an assistant's memory say nearly the same thing; the first is the newest.",
  "Write one statement that says it, keeping every name, number and date, preferring the newest where",
  "they differ. Answer with the statement only.",
].join(" ");

const profileLine = z.object({
  // A kind the model invents reads as a plain summary line rather than failing the whole answer.
  kind: z.enum(PROFILE_KINDS).catch("summary"),
  text: z.string().trim().min(1).max(500),
  memory_ids: z.array(z.string().min(1).max(64)).min(1).max(PROFILE_LIMITS.idsPerLine),
});
/** The structured output asked of the model for a profile summary. */
const profileSchema = z.object({
  stable: z.array(profileLine).max(PROFILE_LIMITS.maxStable),
  recent: z.array(profileLine).max(PROFILE_LIMITS.maxRecent),
});
const PROFILE_JSON_SCHEMA = JSON.stringify(z.toJSONSchema(profileSchema, { io: "input" }));

const PROFILE_SYSTEM = [
  "You write the profile an AI assistant keeps of one user, from notes drawn from its memory. Each note",
  "cites memory ids. Rewrite the notes as short, plain lines: merge notes that say the same thing, drop",
  "repetition, keep every name, place, date and preference, add nothing the notes do not say. Keep",
  "`stable` (who the user is, what lasts) apart from `recent` (current topics, tasks, events). Every line",
  "cites, in memory_ids, the ids of the notes it draws on, and no other ids. Answer with one JSON object",
  "matching this JSON Schema, nothing else:",
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
   * The profile restated by the model as JSON (zod-checked; invalid output is a `malformed`
   * failure, and the caller keeps the rule profile). Ids are not checked here: the caller drops
   * any the rules did not cite.
   */
  async summarizeProfile(req: ProfileSummaryRequest): Promise<ProfileSections> {
    const notes = (lines: ProfileSections["stable"]) =>
      lines.map((l) => `- (${l.kind}) ${l.text} [${l.memory_ids.join(", ")}]`).join("\n") || "(none)";
    const out = await this.chat.complete(
      [
        { role: "system", content: `${PROFILE_SYSTEM}\n${PROFILE_JSON_SCHEMA}` },
        {
          role: "user",
          content: `User: ${req.userId}\n\nStable notes:\n${notes(req.rules.stable)}\n\nRecent notes:\n${notes(req.rules.recent)}`,
        },
      ],
      { temperature: 0, maxTokens: 1024 },
    );
    const parsed = profileSchema.safeParse(parseJson(out));
    if (!parsed.success) throw new LlmError(`${this.name} returned an invalid profile`, "malformed", false);
    return parsed.data;
  }

  /**
   * Structured extraction: the model's JSON is validated by zod; invalid output is retried once
   * with the validation error, then reported. Nothing half-parsed is ever returned.
   */
  async extract(messages: { role: string; content: string }[], speaker: string): Promise<Extraction> {
    const transcript = messages.map((m) => `${m.role}: ${m.content}`).join("\n");
    const prompt: ChatMessage[] = [
      { role: "system", content: `${EXTRACT_SYSTEM}\n${EXTRACTION_JSON_SCHEMA}` },
      { role: "user", content: `Speaker: ${speaker}\n\nConversation:\n${transcript}` },
    ];
    let problem = "";
    for (let attempt = 0; attempt < 2; attempt++) {
      const out = await this.chat.complete(prompt, { temperature: 0, maxTokens: 2048 });
      const parsed = extractionSchema.safeParse(parseJson(out));
      if (parsed.success) return parsed.data;
      problem = parsed.error.issues[0]
        ? `${parsed.error.issues[0].path.join(".") || "output"}: ${parsed.error.issues[0].message}`
        : "not JSON";
      prompt.push(
        { role: "assistant", content: out },
        { role: "user", content: `That is not valid (${problem}). Answer again with only the JSON object.` },
      );
    }
    throw new LlmError(`${this.name} returned invalid extraction output twice (${problem})`, "malformed", false);
  }
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
