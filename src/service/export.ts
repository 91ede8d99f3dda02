import { AppError, asAppError, WriteConflict } from "../domain/errors.ts";
import {
  emptyCounts,
  encodeExportCursor,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  MAX_IMPORT_RECORDS,
  MAX_REPORTED_ERRORS,
  memoryOf,
  RECORD_KINDS,
  recordKey,
  sameMemory,
  sameRecord,
  type ExportLine,
  type ExportPosition,
  type ExportRecord,
  type HistoryRecord,
  type ImportItem,
  type ImportResult,
  type MemoryRecord,
  type RecordKind,
  type RowKind,
  type RowRecord,
} from "../domain/export.ts";
import { contentHash, isExpired, type Memory, type NewMemory } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import type { Logger } from "../log.ts";
import type { MemoryCommit } from "./memory-commit.ts";
import type { Memories } from "./memories.ts";
import type { ExportStore, MemoryStore } from "./ports.ts";

export interface TenantExportDeps {
  exportStore: ExportStore;
  memoryStore: Pick<MemoryStore, "getMany">;
  memories: Pick<Memories, "create">;
  commit: Pick<MemoryCommit, "put">;
  log: Logger;
  clock: () => number;
}

/** Records read per page of an export: bounded, so a tenant of any size streams in constant memory. */
export const EXPORT_PAGE = 100;
/** Import lines handled together: one read of what exists, one embedding call, one transaction per kind. */
const IMPORT_GROUP = 50;

type Foreign = Extract<ImportItem, { kind: "foreign" }>;
type Numbered<T> = { line: number; record: T };

/**
 * A tenant's export (`edgemem-export` JSON Lines, read page by page as the consumer pulls) and
 * import (the same stream, or another system's memories): idempotent, ids kept, every record
 * written whole or not at all, each bad line reported without stopping the rest.
 */
export class TenantExport {
  constructor(private readonly d: TenantExportDeps) {}

  /**
   * The export's lines from `from` (null: the start): the header, each page's records and then a
   * cursor just after them, the `end` trailer. Lazy: a page is read only when the consumer has
   * taken the lines before it. Memories and sessions expired at the start are left out.
   */
  async *lines(p: Principal, from: ExportPosition | null, pageSize = EXPORT_PAGE): AsyncGenerator<ExportLine> {
    const now = this.d.clock();
    yield {
      type: "header",
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      tenant: p.tenant,
      exported_at: now,
      ...(from ? { resumed_from: encodeExportCursor(from) } : {}),
    };
    const counts = emptyCounts();
    const start = from ? RECORD_KINDS.indexOf(from.kind) : 0;
    for (let k = start; k < RECORD_KINDS.length; k++) {
      const kind = RECORD_KINDS[k]!;
      let after: ExportPosition = from && k === start ? from : { kind, key: null };
      for (;;) {
        const records = await this.d.exportStore.page(p.tenant, after, pageSize, now);
        for (const r of records) yield r;
        counts[kind] += records.length;
        const more = records.length === pageSize;
        if (records.length) after = recordKey(records.at(-1)!);
        // After the last page of a kind, the cursor points at the start of the next kind.
        const next = RECORD_KINDS[k + 1];
        yield { type: "cursor", cursor: encodeExportCursor(more || !next ? after : { kind: next, key: null }) };
        if (!more) break;
      }
    }
    yield { type: "end", counts, complete: true };
  }

  /** Imports the items of a stream in order (bounded groups), writing what is new, reporting the rest. */
  async import(p: Principal, items: AsyncIterable<ImportItem>): Promise<ImportResult> {
    const result: ImportResult = {
      imported: emptyCounts(),
      unchanged: emptyCounts(),
      errors: [],
      failed: 0,
      lines: 0,
      truncated: false,
      stopped_at_line: null,
      warnings: [],
    };
    let header = false;
    let end = false;
    let group: ImportItem[] = [];
    let records = 0;
    for await (const item of items) {
      if ((item.kind === "record" || item.kind === "foreign") && ++records > MAX_IMPORT_RECORDS) {
        // Leaving the loop cancels the rest of the body.
        result.stopped_at_line = item.line;
        result.warnings.push(
          `stopped at line ${item.line}: one request takes at most ${MAX_IMPORT_RECORDS} records; post the rest from there`,
        );
        break;
      }
      result.lines = Math.max(result.lines, item.line);
      if (item.kind === "header") header = true;
      else if (item.kind === "end") end = true;
      else if (item.kind === "error") this.fail(result, item.line, item.error, item.field);
      else if (item.kind !== "cursor") {
        group.push(item);
        if (group.length >= IMPORT_GROUP) {
          await this.flush(p, group, result);
          group = [];
        }
      }
    }
    await this.flush(p, group, result);
    result.truncated = header && !end && result.stopped_at_line === null;
    if (result.truncated)
      result.warnings.push("the stream has a header but no end line: it was cut short (what came was imported)");
    return result;
  }

  private fail(result: ImportResult, line: number, error: string, field: string | null): void {
    result.failed++;
    if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push({ line, error, field });
  }

  private async flush(p: Principal, group: ImportItem[], result: ImportResult): Promise<void> {
    if (!group.length) return;
    const of = <K extends RecordKind>(kind: K) =>
      group.flatMap((i) =>
        i.kind === "record" && i.record.type === kind
          ? [{ line: i.line, record: i.record as Extract<ExportRecord, { type: K }> }]
          : [],
      );
    await this.memories(p, of("memory"), result);
    await this.foreign(
      p,
      group.filter((i): i is Foreign => i.kind === "foreign"),
      result,
    );
    await this.history(p, of("history"), result);
    for (const kind of ["entity", "relation", "session", "feedback"] as const)
      await this.rows(p, kind, of(kind) as Numbered<RowRecord>[], result);
  }

  /** edgemem memory records: written as exported (ids, times, fields), re-embedded, with their events. */
  private async memories(p: Principal, items: Numbered<MemoryRecord>[], result: ImportResult): Promise<void> {
    if (!items.length) return;
    const now = this.d.clock();
    const existing = await this.existingMemories(
      p,
      items.map((i) => i.record.id),
      now,
    );
    const fresh: { line: number; memory: Memory }[] = [];
    for (const { line, record } of items) {
      const stored = existing.get(record.id);
      const { type: _type, ...fields } = record as MemoryRecord & { type?: "memory" };
      const memory = memoryOf({ ...fields, memory_hash: await contentHash(record.text) }, p.tenant);
      if (stored) {
        if (sameMemory(stored, memory)) result.unchanged.memory++;
        else this.fail(result, line, `memory ${record.id} exists with other content; not replaced`, "id");
      } else if (isExpired(memory, now)) {
        this.fail(result, line, `memory ${record.id} has expired (expires_at is past); not imported`, "expires_at");
      } else if (fresh.some((f) => f.memory.id === record.id)) {
        this.fail(result, line, `memory ${record.id} appears twice in the stream`, "id");
      } else fresh.push({ line, memory });
    }
    await this.inGroupOrAlone(fresh, result, "memory", (batch) =>
      this.d.commit.put(
        p,
        batch.map((f) => ({ before: null, after: f.memory })),
        { restore: true, reason: "import" },
      ),
    );
  }

  /** Another system's memories: created through the normal path (tags, graph entities, history). */
  private async foreign(p: Principal, items: Foreign[], result: ImportResult): Promise<void> {
    if (!items.length) return;
    const existing = await this.existingMemories(
      p,
      items.map((i) => i.memory.id),
      this.d.clock(),
    );
    const fresh: { line: number; memory: NewMemory }[] = [];
    for (const { line, memory } of items) {
      const stored = existing.get(memory.id);
      if (stored) {
        if (stored.text === memory.text && stored.user_id === (memory.user_id ?? null)) result.unchanged.memory++;
        else this.fail(result, line, `memory ${memory.id} exists with other content; not replaced`, "id");
      } else if (fresh.some((f) => f.memory.id === memory.id)) {
        this.fail(result, line, `memory ${memory.id} appears twice in the stream`, "id");
      } else fresh.push({ line, memory });
    }
    await this.inGroupOrAlone(fresh, result, "memory", (batch) =>
      this.d.memories.create(
        p,
        batch.map((f) => f.memory),
        { dedup: false, reason: "import" },
      ),
    );
  }

  private async history(p: Principal, items: Numbered<HistoryRecord>[], result: ImportResult): Promise<void> {
    if (!items.length) return;
    const outcomes = await this.d.exportStore.appendHistory(
      p.tenant,
      items.map((i) => i.record),
    );
    outcomes.forEach((o, i) => {
      const { line, record } = items[i]!;
      if (o === "imported") result.imported.history++;
      else if (o === "unchanged") result.unchanged.history++;
      else if (o === "conflict")
        this.fail(
          result,
          line,
          `history entry ${record.n} of memory ${record.memory_id} differs from the stored one`,
          "n",
        );
      else if (o === "too_large")
        this.fail(
          result,
          line,
          `history entry ${record.n} of memory ${record.memory_id} is larger than a stored row can be (2 MB)`,
          "after",
        );
      else
        this.fail(
          result,
          line,
          `history entry ${record.n} of memory ${record.memory_id}: the entries before it are missing`,
          "n",
        );
    });
  }

  private async rows(p: Principal, kind: RowKind, items: Numbered<RowRecord>[], result: ImportResult): Promise<void> {
    if (!items.length) return;
    const now = this.d.clock();
    const keyOf = (r: RowRecord) => (r.type === "session" ? r.session_id : r.id);
    const stored = new Map(
      (
        await this.d.exportStore.existing(
          p.tenant,
          kind,
          items.map((i) => keyOf(i.record)),
          now,
        )
      ).map((r) => [keyOf(r), r]),
    );
    // A relation joins two entities of this tenant: one naming an entity the tenant lacks (its
    // line failed, say) is refused rather than stored dangling.
    const entities = new Set<string>();
    if (kind === "relation") {
      const ends = items.flatMap((i) =>
        i.record.type === "relation" ? [i.record.subject_id, i.record.object_id] : [],
      );
      for (const e of await this.d.exportStore.existing(p.tenant, "entity", ends, now))
        if (e.type === "entity") entities.add(e.id);
    }
    const fresh: Numbered<RowRecord>[] = [];
    for (const item of items) {
      const key = keyOf(item.record);
      const there = stored.get(key);
      const field = kind === "session" ? "session_id" : "id";
      const r = item.record;
      const missing = r.type === "relation" ? [r.subject_id, r.object_id].findIndex((id) => !entities.has(id)) : -1;
      if (r.type === "relation" && missing >= 0 && !there) {
        const end = missing === 0 ? "subject_id" : "object_id";
        this.fail(result, item.line, `relation ${key}: entity ${r[end]} is not in this tenant`, end);
      } else if (there) {
        if (sameRecord(there, item.record)) result.unchanged[kind]++;
        else this.fail(result, item.line, `${kind} ${key} exists with other content; not replaced`, field);
      } else if (fresh.some((f) => keyOf(f.record) === key)) {
        this.fail(result, item.line, `${kind} ${key} appears twice in the stream`, field);
      } else fresh.push(item);
    }
    await this.inGroupOrAlone(fresh, result, kind, (batch) =>
      this.d.exportStore.insert(
        p.tenant,
        batch.map((b) => b.record),
        now,
      ),
    );
  }

  /**
   * Writes a group in one transaction; if that fails on a record's own account (a taken key, a
   * concurrent write), each record alone, so one bad record costs only its own line. Failures that
   * are not a record's fault (a tenant move, a full database, a bug) end the import.
   */
  private async inGroupOrAlone<T extends { line: number }>(
    items: T[],
    result: ImportResult,
    kind: RecordKind,
    write: (batch: T[]) => Promise<unknown>,
  ): Promise<void> {
    if (!items.length) return;
    try {
      await write(items);
      result.imported[kind] += items.length;
      return;
    } catch (e) {
      if (!recordFault(e)) throw e;
      if (items.length === 1) {
        this.fail(result, items[0]!.line, reasonOf(e), fieldOf(e));
        return;
      }
    }
    for (const item of items) await this.inGroupOrAlone([item], result, kind, write);
  }

  private async existingMemories(p: Principal, ids: string[], now: number): Promise<Map<string, Memory>> {
    const found = await this.d.memoryStore.getMany(p.tenant, [...new Set(ids)], now);
    return new Map(found.map((m) => [m.id, m]));
  }
}

/** Whether a failed write failed because of its records (then each is tried alone). */
function recordFault(e: unknown): boolean {
  if (e instanceof WriteConflict) return true;
  const err = asAppError(e);
  return (
    err !== null && (err.code === "conflict" || err.code === "validation_error" || err.code === "payload_too_large")
  );
}

function reasonOf(e: unknown): string {
  if (e instanceof WriteConflict) return "written concurrently by another request; import again";
  return asAppError(e)?.message ?? "not written";
}

function fieldOf(e: unknown): string | null {
  const err = e instanceof AppError ? e : null;
  if (!err) return null;
  return err.issues[0]?.field ?? (err.code === "conflict" ? "key" : null);
}
