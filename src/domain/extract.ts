import type { MemoryType } from "./memory.ts";
import { sentences } from "./summarize.ts";
import { STOPWORDS } from "./text.ts";

/**
 * The offline extractor: deterministic rules that turn chat messages into typed memories,
 * entities, relations and topics. It catches the common cases ("We decided to use Redis for
 * caching" → a decision, the technology Redis, the topic caching, the fact caching —uses→ Redis);
 * an LLM does better on the rest. Pure.
 */

export const ENTITY_TYPES = [
  "person",
  "organization",
  "technology",
  "product",
  "place",
  "date",
  "topic",
  "concept",
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export interface ExtractedEntity {
  name: string;
  type: EntityType;
}

export interface ExtractedRelation {
  subject: string;
  predicate: string;
  object: string;
}

export interface ExtractedMemory {
  text: string;
  memory_type: MemoryType;
  topics: string[];
  entities: string[];
  relations: ExtractedRelation[];
  /**
   * With an LLM: the ids of the known current memories this one makes no longer true, as the
   * model judged them (docs/temporal.md). Absent offline: the rules judge.
   */
  supersedes?: string[];
}

/**
 * Why a candidate was not kept. Offline: `question`, `greeting` (greetings and filler: hi, thanks,
 * ok), `too_short` (under three words), `low_information` (no type fits: no decision, todo,
 * preference, event, fact, number or name), `duplicate_in_message` (repeats an earlier sentence of
 * the same ingest), `assistant_chatter` (an assistant's sentence that is neither a decision nor a
 * todo). With an LLM: `invalid` (an item of the model's output that failed validation; `detail` says
 * why) and `over_limit` (past the 200 memories one extraction may return).
 */
export const DROP_REASONS = [
  "question",
  "greeting",
  "too_short",
  "low_information",
  "duplicate_in_message",
  "assistant_chatter",
  "invalid",
  "over_limit",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** A candidate the extractor considered and did not keep. */
export interface DroppedCandidate {
  text: string;
  reason: DropReason;
  /** What failed, for `invalid`. */
  detail?: string;
}

/** Tokens a model spent, as its provider reported them. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Extraction {
  memories: ExtractedMemory[];
  entities: ExtractedEntity[];
  topics: string[];
  /** Candidates considered and not kept, with the reason, in the order met. */
  dropped: DroppedCandidate[];
  /** Tokens the extraction cost (summed over retries); null offline or when the provider reports none. */
  usage?: TokenUsage | null;
}

/**
 * Predicates with one current value per subject: a new object closes the relation to the old one
 * (caching uses Memcached replaces caching uses Redis). Others accumulate (prefers, knows, ...).
 */
export const SINGLE_VALUED = new Set(["uses", "lives_in", "works_at", "role", "deadline", "owned_by"]);

/** Well-known tools and technologies, by lower-cased name or alias → canonical name. */
const TECH: Record<string, string> = Object.fromEntries(
  (
    "Redis PostgreSQL:postgres:postgresql:pg MySQL SQLite MongoDB:mongo Cassandra DynamoDB Memcached Kafka RabbitMQ NATS " +
    "Elasticsearch:elastic OpenSearch ClickHouse Snowflake BigQuery Docker Kubernetes:k8s Terraform Ansible Nginx Linux " +
    "AWS GCP Azure Cloudflare Vercel Netlify Heroku S3 R2 D1 Vectorize Lambda React Vue Svelte Angular Next.js:nextjs " +
    "Node.js:node:nodejs Deno Bun TypeScript:ts JavaScript:js Python Rust Go:golang Java Kotlin Swift Ruby Rails " +
    "Django Flask FastAPI GraphQL gRPC Git GitHub GitLab Jira Slack Notion Figma OpenAI ChatGPT Claude Gemini Llama " +
    "LangChain Pinecone Weaviate Qdrant Supabase Firebase Stripe Twilio Sentry Datadog Grafana Prometheus Jenkins " +
    "CircleCI Vite Webpack Tailwind"
  )
    .split(" ")
    .flatMap((spec) => {
      const [name, ...aliases] = spec.split(":");
      return [name!, ...aliases].map((a) => [a.toLowerCase(), name!]);
    }),
);

/** Technology names that are also everyday English words. */
const EVERYDAY = new Set(
  "go node bun swift ruby rails rust java slack notion lambda react vue next elastic mongo vite".split(" "),
);

const DECISION =
  /\b(?:decided|decide|agreed|chose|choose|opted|settled on|went with|go with|going with|switch(?:ed|ing)? to|migrat(?:e|ed|ing) to|moved to|adopt(?:ed)?|decision)\b/i;
const TODO =
  /\b(?:todo|to-do|remind me|need to|needs to|have to|has to|must|action items?|follow up|don't forget|remember to|let's|deadline|due (?:on|by))\b/i;
const PREFERENCE =
  /\b(?:i|we|he|she|they|user)\s+(?:really\s+|strongly\s+)?(?:prefer|prefers|like|likes|love|loves|enjoy|enjoys|hate|hates|dislike|dislikes|don't like|do not like|can't stand|want|wants)\b|\bfavou?rite\b|\b(?:always|never)\b|\bprefer(?:s|red)?\b/i;
const EVENT =
  /\b(?:yesterday|today|tonight|last (?:week|month|year|night)|this morning|met|meeting|launched|released|shipped|deployed|happened|visited|attended|started|finished|completed|signed)\b/i;
const FACT = /\b(?:is|are|was|were|has|have|uses|use|using|owns|handles|leads|lives|works|costs|runs|contains)\b/i;
const FILLER =
  /^(?:(?:hi|hello|hey|thanks|thank you|ok|okay|sure|great|cool|nice|got it|sounds good|perfect|yes|no|yep|nope|right|alright|awesome|bye)\b[\s,!.]*)+$/i;

const MONTHS =
  "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";
const DATE = new RegExp(
  `\\b(?:(?:${MONTHS})\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?(?:,?\\s+\\d{4})?|\\d{4}-\\d{2}-\\d{2}|(?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|yesterday|next (?:week|month|year))\\b`,
  "gi",
);
/** Runs of capitalised words; the first word of a sentence counts only with another after it. */
const CAPITALISED = /\b[\p{Lu}][\p{L}\d.'-]*(?:\s+(?:of|de|van|von|la)?\s*[\p{Lu}][\p{L}\d.'-]*)*/gu;
const PLACE_CUE = /\b(?:in|at|from|to|near|visit(?:ed)?|live[sd]? in|based in|moved to)\s+$/i;
/** Characters either side of a name that PLACE_CUE and PERSON_NEXT look at. */
const CONTEXT_CHARS = 40;
const PERSON_NEXT =
  /^\s+(?:said|says|told|asked|will|is|was|owns|handles|leads|prefers|likes|wants|thinks|joined|left)\b/i;
const ORG_SUFFIX = /\b(?:Inc|Corp|Ltd|LLC|GmbH|Labs|Systems|Technologies|Bank|University|Group)\.?$/;
/** Capitalised words that are never names on their own. */
const NOT_NAMES = new Set(
  "I I'm I'll I've I'd We We'll We're You They He She It The A An This That These Those Our My Your Their His Her Its Also And But Or So If When Then Please Thanks Hi Hello Hey Ok Okay Yes No Let's Let Remember Note Today Tomorrow Yesterday Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December Q1 Q2 Q3 Q4".split(
    " ",
  ),
);

/** `for caching`, `about the data pipeline`: what a sentence is about. */
const TOPIC_PHRASE =
  /\b(?:for|about|regarding|on the topic of)\s+(?:the\s+|our\s+|my\s+)?([a-z][a-z-]+(?:\s+[a-z][a-z-]+)?)/gi;
/** Words that end a topic phrase (`caching last week` is about caching). */
const NOT_TOPIC = new Set(
  "last next this every each now today tomorrow yesterday week month year and or but in on at with".split(" "),
);

/** Relation patterns: [regex, build]. `S`, `O` groups name the subject and object. */
const RELATIONS: [RegExp, (m: RegExpExecArray, speaker: string) => ExtractedRelation | null][] = [
  [
    /\b(?:use|uses|using|used|chose|choose|chosen|picked|adopt(?:ed)?|switch(?:ed)? to|migrat(?:e|ed) to|moved to|went with|go with|going with)\s+(?<O>[\p{L}\d.+#-]+(?:\s[\p{Lu}][\p{L}\d.+#-]*)?)\s+(?:for|as)\s+(?:the\s+|our\s+)?(?<S>[a-z][a-z-]+(?:\s+[a-z][a-z-]+)?)/iu,
    (m) => ({ subject: topicName(m.groups!.S!), predicate: "uses", object: canonical(m.groups!.O!) }),
  ],
  [
    /\b(?:[Ii]|[Ww]e)\s+(?:really\s+)?(?:prefer|like|love|enjoy)\s+(?<O>[^,.;!?]{2,60}?)(?=\s+(?:over|to|than|for|because|when|in)\b|[,.;!?]|$)/iu,
    (m, speaker) => ({ subject: speaker, predicate: "prefers", object: m.groups!.O!.trim() }),
  ],
  [
    /(?:\b(?:[Ii]|[Ww]e)\s+|\band\s+)(?:live|am based|are based|moved)\s+(?:in|to)\s+(?<O>[\p{Lu}][\p{L}-]*(?:\s[\p{Lu}][\p{L}-]*)*)/u,
    (m, speaker) => ({ subject: speaker, predicate: "lives_in", object: m.groups!.O! }),
  ],
  [
    /(?:\b(?:[Ii]|[Ww]e)\s+|\band\s+)work\s+(?:at|for)\s+(?<O>[\p{Lu}][\p{L}\d&-]*(?:\s[\p{Lu}][\p{L}\d&-]*)*)/u,
    (m, speaker) => ({ subject: speaker, predicate: "works_at", object: m.groups!.O! }),
  ],
  [
    /(?<S>[\p{Lu}][\p{L}-]+(?:\s[\p{Lu}][\p{L}-]+)+)\s+(?:is|will be)\s+(?:the|our)\s+(?<O>[a-z][a-z ]{2,40}?)(?=[,.;!?]|\s+(?:for|of|on)\b|$)/u,
    (m) => ({ subject: m.groups!.S!, predicate: "role", object: m.groups!.O!.trim() }),
  ],
  [
    /(?<S>[\p{Lu}][\p{L}-]+(?:\s[\p{Lu}][\p{L}-]+)?)\s+(?:owns|handles|leads|will handle|will own|will lead|is responsible for)\s+(?:the\s+)?(?<O>[\p{L}\d][\p{L}\d -]{1,40}?)(?=[,.;!?]|\s+and\b|$)/u,
    (m) => ({ subject: m.groups!.S!, predicate: "owns", object: m.groups!.O!.trim() }),
  ],
];

/** The type of a named entity: a known technology, else what the text around it says, else a concept. */
export function entityType(name: string, text = ""): EntityType {
  return entityTypes([name], text).get(name)!;
}

/** {@link entityType} for many names of one text, which is tagged once (not once per name). */
export function entityTypes(names: readonly string[], text: string): Map<string, EntityType> {
  const tagged = names.some((n) => !TECH[n.toLowerCase()]) ? tagText(text).entities : [];
  const byName = new Map(tagged.map((e) => [e.name.toLowerCase(), e.type]));
  return new Map(
    names.map((n) => [n, TECH[n.toLowerCase()] ? "technology" : (byName.get(n.toLowerCase()) ?? "concept")]),
  );
}

function canonical(name: string): string {
  return TECH[name.toLowerCase()] ?? name.trim();
}

function topicName(phrase: string): string {
  const words: string[] = [];
  for (const w of phrase.toLowerCase().split(/\s+/)) {
    if (STOPWORDS.has(w) || NOT_TOPIC.has(w)) break;
    words.push(w);
  }
  return words.join(" ");
}

/** The type of a sentence worth remembering, or null for filler, questions and fragments. */
export function classify(sentence: string): MemoryType | null {
  const c = classifyWhy(sentence);
  return "type" in c ? c.type : null;
}

/** {@link classify} with the reason a sentence is not worth remembering. */
export function classifyWhy(sentence: string): { type: MemoryType } | { reason: DropReason } {
  const s = sentence.trim();
  if (s.endsWith("?")) return { reason: "question" };
  if (FILLER.test(s)) return { reason: "greeting" };
  if (s.split(/\s+/).length < 3) return { reason: "too_short" };
  if (DECISION.test(s)) return { type: "decision" };
  if (TODO.test(s)) return { type: "todo" };
  if (PREFERENCE.test(s)) return { type: "preference" };
  if (EVENT.test(s)) return { type: "event" };
  if (FACT.test(s) || /\d/.test(s) || tagText(s).entities.length) return { type: "fact" };
  return { reason: "low_information" };
}

/** Entities and topics of a text: known technologies, names, places, organisations, dates. */
export function tagText(text: string): { entities: ExtractedEntity[]; topics: string[] } {
  const found = new Map<string, ExtractedEntity>();
  const add = (name: string, type: EntityType) => {
    const key = name.toLowerCase();
    if (!found.has(key)) found.set(key, { name, type });
  };
  for (const word of text.match(/[\p{L}\d.+#-]+/gu) ?? []) {
    const bare = word.replace(/[.]+$/, "");
    const tech = TECH[bare.toLowerCase()];
    // Names that are also everyday words (go, node, rust, slack) count only when capitalised.
    const plain = bare.length > 3 && !EVERYDAY.has(bare.toLowerCase());
    if (tech && (plain || /^[\p{Lu}]/u.test(bare))) add(tech, "technology");
  }
  for (const s of sentences(text)) {
    for (const m of s.matchAll(CAPITALISED)) {
      let name = m[0].replace(/[.'-]+$/, "");
      const atStart = m.index === 0;
      const parts = name.split(/\s+/).filter((p) => !NOT_NAMES.has(p));
      if (!parts.length) continue;
      name = parts.join(" ");
      if (atStart && parts.length < 2 && !TECH[name.toLowerCase()]) continue;
      if (TECH[name.toLowerCase()]) continue;
      // Only the words next to a name decide its type: bounded slices keep this linear in the sentence.
      const before = s.slice(Math.max(0, m.index! - CONTEXT_CHARS), m.index);
      const after = s.slice(m.index! + m[0].length, m.index! + m[0].length + CONTEXT_CHARS);
      let type: EntityType = "concept";
      if (ORG_SUFFIX.test(name)) type = "organization";
      else if (PLACE_CUE.test(before)) type = "place";
      else if (parts.length >= 2 || PERSON_NEXT.test(after)) type = "person";
      else type = "product";
      add(name, type);
    }
    for (const d of s.matchAll(DATE)) add(d[0], "date");
  }
  const topics = new Set<string>();
  for (const m of text.matchAll(TOPIC_PHRASE)) {
    const t = topicName(m[1]!);
    // `for Apollo`: a name is an entity, not a topic.
    if (t && !found.has(t) && t.length > 2) topics.add(t);
  }
  return { entities: [...found.values()], topics: [...topics] };
}

/**
 * Longest sentence relations are read from. The relation patterns are unanchored with repeated
 * groups, so their cost grows with the square of a sentence's length (a 99,000-letter sentence
 * took 20 s); a sentence stating one relation is far shorter than this.
 */
const MAX_RELATION_SENTENCE = 500;

/** Relations a sentence states; `speaker` names the subject of first-person statements. */
export function relationsOf(sentence: string, speaker: string): ExtractedRelation[] {
  const out: ExtractedRelation[] = [];
  if (sentence.length > MAX_RELATION_SENTENCE) return out;
  for (const [re, build] of RELATIONS) {
    const m = re.exec(sentence);
    const r = m && build(m, speaker);
    if (r && r.subject && r.object && r.subject.toLowerCase() !== r.object.toLowerCase()) out.push(r);
  }
  return out;
}

/**
 * Extracts memories worth keeping from chat messages: one per informative sentence, typed, with
 * its entities, topics and relations. `speaker` is who "I" is in user messages (a user id).
 */
export function extract(messages: { role: string; content: string }[], speaker = "user"): Extraction {
  const memories: ExtractedMemory[] = [];
  const entities = new Map<string, ExtractedEntity>();
  const topics = new Set<string>();
  const seen = new Set<string>();
  const dropped: DroppedCandidate[] = [];
  for (const msg of messages) {
    if (msg.role === "system" || msg.role === "tool" || msg.role === "function") continue;
    for (const s of sentences(msg.content)) {
      const c = classifyWhy(s);
      if ("reason" in c) {
        dropped.push({ text: s, reason: c.reason });
        continue;
      }
      const type = c.type;
      // The assistant's turns are remembered only for what it decided or committed to.
      if (msg.role === "assistant" && type !== "decision" && type !== "todo") {
        dropped.push({ text: s, reason: "assistant_chatter" });
        continue;
      }
      const key = s.toLowerCase().replace(/\W+/g, " ").trim();
      if (seen.has(key)) {
        dropped.push({ text: s, reason: "duplicate_in_message" });
        continue;
      }
      seen.add(key);
      const tags = tagText(s);
      const relations = relationsOf(s, msg.role === "user" ? speaker : "assistant");
      for (const r of relations) {
        if (r.predicate === "uses") tags.topics.includes(r.subject) || tags.topics.push(r.subject);
      }
      for (const e of tags.entities) entities.set(e.name.toLowerCase(), e);
      for (const t of tags.topics) topics.add(t);
      memories.push({
        text: s,
        memory_type: type,
        topics: tags.topics,
        entities: tags.entities.map((e) => e.name),
        relations,
      });
    }
  }
  return { memories, entities: [...entities.values()], topics: [...topics], dropped, usage: null };
}
