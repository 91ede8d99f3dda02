import type { LlmProvider } from "../ai/llm.ts";
import type { Config } from "../config.ts";
import { mergedMemory, newestFirst, type ConsolidationResult } from "../domain/consolidation.ts";
import type { ForgetPolicy } from "../domain/forget.ts";
import type { Memory } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import { compatibleFacts, faithfulMerge } from "../domain/text.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { Memories } from "./memories.ts";
import type { MaintenanceStore } from "./ports.ts";
import { retryOnConflict } from "./retry.ts";

export interface ConsolidationDeps {
  memories: Memories;
  maintenanceStore: Pick<MaintenanceStore, "get" | "advance" | "finish" | "tenantsToConsolidate">;
  llm: LlmProvider;
  config: Pick<Config, "CONSOLIDATION" | "FORGET_POLICY">;
  /** Similarity at or above which memories are near-duplicates (the embedder's, or DEDUP_SIMILARITY). */
  nearDuplicate: number;
  log: Logger;
  clock: () => number;
}

/** Memories checked for near-duplicates per tenant per consolidation run. */
const CONSOLIDATION_BATCH = 200;

/** Consolidation: near-duplicate memories merged, then the forget policy. */
export class Consolidation {
  constructor(private readonly d: ConsolidationDeps) {}

  /**
   * Consolidates one tenant: memories written since the last run are checked for
   * near-duplicates (same owner, same fact); each cluster is merged into its newest memory in
   * one transaction (the cursor advances after each, so an interrupted run resumes where it
   * stopped); then the forget policy runs when FORGET_POLICY is configured.
   */
  async consolidate(tenant: string): Promise<ConsolidationResult> {
    const p: Principal = { tenant, subject: "system", scopes: null };
    const state = await this.d.maintenanceStore.get(tenant);
    const batch = await this.d.memories.changedSince(tenant, state.cursor, CONSOLIDATION_BATCH);
    const result: ConsolidationResult = { checked: batch.length, merged: 0, removed: 0, forgotten: 0 };
    const gone = new Set<string>();
    for (const m of batch) {
      // A closed memory is history: never merged into, nor merged away (the cursor still passes it).
      if (!gone.has(m.id) && m.valid_to === null) {
        let first = true;
        // A merge writes only if every memory of the cluster is still as read; otherwise the
        // cluster is rebuilt from fresh reads (a concurrent write is never overwritten).
        await retryOnConflict("consolidation", async () => {
          const current = first ? m : (await this.d.memories.getMany(p, [m.id]))[0];
          first = false;
          if (current && current.valid_to === null) await this.mergeCluster(p, current, gone, result);
        });
      }
      await this.d.maintenanceStore.advance(tenant, { at: m.updated_at, id: m.id });
    }
    if (this.d.config.FORGET_POLICY) {
      const policy = JSON.parse(this.d.config.FORGET_POLICY) as ForgetPolicy;
      const res = await this.d.memories.forget(p, { policy, limit: 1000, dry_run: false, pinned_ids: [] });
      result.forgotten = res.deleted;
    }
    await this.d.maintenanceStore.finish(tenant, this.d.clock(), result);
    return result;
  }

  /** The Cron Trigger's consolidation: every tenant with memories written since its last run. */
  async consolidateAll(
    limit = 20,
  ): Promise<{ tenants: number; merged: number; removed: number; forgotten: number; errors: string[] }> {
    const out = { tenants: 0, merged: 0, removed: 0, forgotten: 0, errors: [] as string[] };
    if (!this.d.config.CONSOLIDATION) return out;
    for (const tenant of await this.d.maintenanceStore.tenantsToConsolidate(limit)) {
      try {
        const r = await this.consolidate(tenant);
        out.tenants++;
        out.merged += r.merged;
        out.removed += r.removed;
        out.forgotten += r.forgotten;
      } catch (e) {
        // Logged and retried on the next run: the cursor only moved past what was done.
        this.d.log.error("consolidation failed", { tenant, error: errorMessage(e) });
        out.errors.push(`${tenant}: ${errorMessage(e)}`);
      }
    }
    return out;
  }

  /** Merges `m` with its near-duplicates (same owner, same fact) into the newest of them, if any. */
  private async mergeCluster(p: Principal, m: Memory, gone: Set<string>, result: ConsolidationResult): Promise<void> {
    const similar = (await this.d.memories.similar(p, m, this.d.nearDuplicate)).filter(
      (o) => !gone.has(o.id) && !o.pinned && compatibleFacts(o.text, m.text),
    );
    if (!similar.length) return;
    const cluster = newestFirst([m, ...similar]);
    const keep = cluster[0]!;
    const others = cluster.slice(1);
    const text = await this.mergedText(cluster.map((x) => x.text));
    await this.d.memories.merge(p.tenant, keep, mergedMemory(cluster, text, this.d.clock()), others, "system");
    for (const o of others) gone.add(o.id);
    result.merged++;
    result.removed += others.length;
  }

  /**
   * The text a merged cluster keeps: the LLM's merge when it is faithful (every number and name
   * kept, none added, not much longer), else the newest text. A provider failure is logged, not fatal.
   */
  private async mergedText(texts: string[]): Promise<string> {
    try {
      const merged = await this.d.llm.merge(texts);
      if (merged && faithfulMerge(merged, texts)) return merged;
      if (merged) this.d.log.warn("consolidation: unfaithful merge ignored", { merged, sources: texts.length });
    } catch (e) {
      this.d.log.warn("consolidation: LLM merge failed; keeping the newest text", { error: errorMessage(e) });
    }
    return texts[0]!;
  }
}
