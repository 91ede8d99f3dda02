// Compile-time proof (checked by `npm run typecheck`) that the SDK's wire types in client/types.ts
// are exactly the server's zod schemas: request types are what the schemas accept, response
// types what the handlers (typed by the documented schemas) send. Nothing here runs.
import type * as z from "zod";
import type * as C from "../client/types.ts";
import type {
  createMemoriesBody,
  createMemoriesOut,
  forgetBody,
  forgetOut,
  historyOut,
  historyQuery,
  memoryHitOut,
  memoryRecordInput,
  memoryRecordOut,
  patchMemoryBody,
  invalidateBody,
  searchBody,
  searchResultOut,
} from "../src/wire/ams.ts";
import type { createCrudBody, crudRecordOut, listCrudQuery, searchCrudBody, updateCrudBody } from "../src/wire/crud.ts";
import type {
  consolidationOut,
  feedbackBody,
  feedbackOut,
  graphOut,
  graphQueryBody,
  ingestBody,
  ingestOut,
  ingestTraceEntryOut,
  statsOut,
  thinkBody,
  thinkEvent,
  thinkOut,
  tokenUsageOut,
  whoamiOut,
} from "../src/wire/knowledge.ts";
import type { errorOut } from "../src/wire/http.ts";
import type { profileOut, profileQuery } from "../src/wire/profile.ts";
import type { exportLine, importQuery, importResponse } from "../src/wire/export.ts";
import type { MEMORY_TYPES } from "../src/domain/memory.ts";
import type {
  listSessionsQuery,
  promptBody,
  promptOut,
  sessionListOut,
  workingMemoryBody,
  workingMemoryOut,
} from "../src/wire/working-memory.ts";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type In<S extends z.ZodType> = z.input<S>;
type Out<S extends z.ZodType> = z.output<S>;

/** Compiles only when T is true: a mismatch is an error on that line. */
export function ok<T extends true>(): void {}

ok<Same<C.MemoryInput, In<typeof memoryRecordInput>>>();
ok<Same<{ memories: C.MemoryInput[]; deduplicate?: boolean | null }, In<typeof createMemoriesBody>>>();
ok<Same<C.MemoryPatch, In<typeof patchMemoryBody>>>();
ok<Same<C.InvalidateRequest, In<typeof invalidateBody>>>();
ok<Same<C.SearchRequest, In<typeof searchBody>>>();
ok<Same<C.ForgetRequest, In<typeof forgetBody>>>();
ok<Same<C.WorkingMemoryInput, In<typeof workingMemoryBody>>>();
ok<Same<C.PromptRequest, In<typeof promptBody>>>();
ok<Same<C.IngestRequest, In<typeof ingestBody>>>();
ok<Same<C.GraphQuery, In<typeof graphQueryBody>>>();
ok<Same<C.ThinkRequest & { stream?: boolean }, In<typeof thinkBody>>>();
ok<Same<C.FeedbackRequest, In<typeof feedbackBody>>>();
ok<Same<C.CrudCreate, In<typeof createCrudBody>>>();
ok<Same<C.CrudUpdate, In<typeof updateCrudBody>>>();
ok<Same<C.CrudSearch, In<typeof searchCrudBody>>>();
ok<Same<C.MemoryRecord, Out<typeof memoryRecordOut>>>();
ok<Same<C.MemoryHit, Out<typeof memoryHitOut>>>();
ok<Same<C.SearchResult, Out<typeof searchResultOut>>>();
ok<Same<C.CreateResult, Out<typeof createMemoriesOut>>>();
ok<Same<C.ForgetResult, Out<typeof forgetOut>>>();
ok<Same<C.History, Out<typeof historyOut>>>();
ok<Same<C.SessionList, Out<typeof sessionListOut>>>();
ok<Same<C.WorkingMemory, Out<typeof workingMemoryOut>>>();
ok<Same<C.PromptResult, Out<typeof promptOut>>>();
ok<Same<C.IngestResult, Out<typeof ingestOut>>>();
ok<Same<C.IngestTraceEntry, Out<typeof ingestTraceEntryOut>>>();
ok<Same<C.TokenUsage, Out<typeof tokenUsageOut>>>();
// Optional fields pass Same either way: their names must match too.
ok<Same<keyof C.IngestRequest, keyof In<typeof ingestBody>>>();
ok<Same<keyof C.IngestResult, keyof Out<typeof ingestOut>>>();
ok<Same<keyof C.IngestTraceEntry, keyof Out<typeof ingestTraceEntryOut>>>();
ok<Same<C.GraphResult, Out<typeof graphOut>>>();
ok<Same<C.ThinkResult, Out<typeof thinkOut>>>();
ok<Same<C.ThinkEvent, Out<typeof thinkEvent>>>();
ok<Same<C.FeedbackResult, Out<typeof feedbackOut>>>();
ok<Same<C.Status, Out<typeof statsOut>>>();
ok<Same<C.UserProfile, Out<typeof profileOut>>>();
ok<Same<C.ProfileKind, Out<typeof profileOut>["stable"][number]["kind"]>>();
ok<Same<C.PromptRequest["include_profile"], In<typeof promptBody>["include_profile"]>>();
ok<Same<C.PromptResult["profile"], Out<typeof promptOut>["profile"]>>();
ok<Same<{ user_id: string; namespace?: string }, In<typeof profileQuery>>>();
ok<Same<C.Whoami, Out<typeof whoamiOut>>>();
ok<Same<C.ConsolidationResult, Out<typeof consolidationOut>>>();
ok<Same<C.CrudMemory, Out<typeof crudRecordOut>>>();
ok<Same<C.ErrorBody, Out<typeof errorOut>>>();
ok<Same<C.ExportLine, Out<typeof exportLine>>>();
ok<Same<C.ImportResult, Out<typeof importResponse>>>();
ok<Same<C.ImportFormat, NonNullable<In<typeof importQuery>["format"]>>>();
// Query parameters arrive as strings (coerced), so their types differ; their names must not.
ok<Same<keyof C.CrudListQuery, keyof In<typeof listCrudQuery>>>();
ok<Same<keyof C.SessionListQuery, keyof In<typeof listSessionsQuery>>>();
ok<Same<keyof C.HistoryQuery, keyof In<typeof historyQuery>>>();
// The list itself, in the same order (the explorer's type picker shows it).
ok<Same<typeof C.MEMORY_TYPES, typeof MEMORY_TYPES>>();
