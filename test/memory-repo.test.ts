import { describe, expect, it } from "vitest";
import { oneShard } from "./support/shards.ts";
import { AppError } from "../src/domain/errors.ts";
import type { FeedbackRecord } from "../src/domain/feedback.ts";
import { buildMemory, type NewMemory } from "../src/domain/memory.ts";
import type { WriteOp } from "../src/domain/writes.ts";
import { MemoryRepo } from "../src/store/memory-repo.ts";

// MemoryRepo.write reports a conflict with clash "key" only for the CRUD key's unique index;
// upsertByKey turns that clash into an update, so any other unique violation must stay an error.
describe("MemoryRepo.write: key conflicts", () => {
  const repo = new MemoryRepo(oneShard(), false);
  const create = async (tenant: string, id: string, input: Partial<NewMemory> = {}): Promise<WriteOp> => ({
    kind: "put",
    before: null,
    after: await buildMemory(tenant, id, { text: `memory ${id}`, ...input }, Date.now()),
    vector: { kind: "keep" },
  });
  const feedback = (id: string, memoryId: string): FeedbackRecord => ({
    id,
    memory_id: memoryId,
    rating: "positive",
    comment: null,
    actor: "test",
    at: Date.now(),
    confidence_before: 0.8,
    confidence_after: 0.9,
  });

  it("a create taking another memory's CRUD key is a key conflict", async () => {
    const tenant = `t-${crypto.randomUUID()}`;
    const key = { agent_id: "agent", scope: "agent" as const, key: "k" };
    await repo.write(tenant, [await create(tenant, "a", key)], "test", Date.now());
    const err = await repo.write(tenant, [await create(tenant, "b", key)], "test", Date.now()).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).reason).toEqual({ code: "conflict", clash: "key" });
  });

  it("another unique violation in the batch is not a key conflict, and writes nothing", async () => {
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    await repo.write(tenant, [await create(tenant, "a")], "test", now, [
      { kind: "feedback", feedback: feedback("f1", "a") },
    ]);
    // The same feedback id again breaks the feedback table's primary key.
    const err = await repo
      .write(tenant, [await create(tenant, "b", { key: "k" })], "test", now, [
        { kind: "feedback", feedback: feedback("f1", "b") },
      ])
      .catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AppError);
    expect(String((err as Error).message)).toContain("UNIQUE constraint failed: feedback.tenant, feedback.id");
    expect(await repo.get(tenant, "b", now)).toBeNull();
  });
});

describe("MemoryRepo.hasAgent", () => {
  it("is true only for an agent with a live memory in the tenant", async () => {
    const repo = new MemoryRepo(oneShard(), false);
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    const put = async (id: string, agent_id: string, expires_at?: number): Promise<WriteOp> => ({
      kind: "put",
      before: null,
      after: await buildMemory(tenant, id, { text: `memory ${id}`, agent_id, expires_at }, now),
      vector: { kind: "keep" },
    });
    await repo.write(tenant, [await put("a", "live"), await put("b", "expired", now + 1000)], "test", now);
    expect(await repo.hasAgent(tenant, "live", now)).toBe(true);
    expect(await repo.hasAgent(tenant, "expired", now)).toBe(true);
    expect(await repo.hasAgent(tenant, "expired", now + 1000)).toBe(false);
    expect(await repo.hasAgent(tenant, "ghost", now)).toBe(false);
    expect(await repo.hasAgent(`t-${crypto.randomUUID()}`, "live", now)).toBe(false);
  });
});
