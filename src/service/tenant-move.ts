import { AppError, asAppError, WriteConflict } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import {
  chainSum,
  EMPTY_SUM,
  finished,
  movedFence,
  movingFence,
  newMove,
  switched,
  type Cursor,
  type MovePhase,
  type MoveView,
  type SideSum,
  type TenantMove,
  type TenantPlacementView,
} from "../domain/tenant-move.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { TenantMoveStore } from "./ports.ts";

export interface TenantMovesDeps {
  store: TenantMoveStore;
  log: Logger;
  clock: () => number;
  /** How long an isolate trusts a placement it read (databases.ts): the least a drain may last. */
  placementTtlMs: number;
  /** The work of one call: at most this many steps, started within this many ms. */
  budget?: { steps: number; ms: number };
}

/**
 * A driver's turn: long enough to outlive any call's budget by far, so a crashed driver's move is
 * resumable a minute later, and a live driver never loses its lease mid-call.
 */
const LEASE_MS = 60_000;
/**
 * A call's work: ~50 steps of ≤ 6 D1 statements each stays well inside a Worker invocation's 1,000
 * queries, and 5 s of it inside any request timeout.
 */
const DEFAULT_BUDGET = { steps: 50, ms: 5_000 };
/** Rows checksummed per page and side. */
const VERIFY_ROWS = 200;
/** How long a caller waits when another driver holds the move. */
const BUSY_RETRY_MS = 1_000;

/** State a call keeps between its steps. */
interface CallContext {
  /** The target's copy progress, read once per call. */
  cursors: Map<string, { after: Cursor; rows: number }> | null;
  /** Rollback has re-fenced the target and unfenced the source (in this call or an earlier one). */
  rollbackReady: boolean;
}

/**
 * Moves tenants between shards, a bounded step at a time (docs/deploy.md "Moving a tenant"):
 *
 * - fence: both shards refuse the tenant's writes (503 + Retry-After) from here until the switch;
 * - clear: rows a failed earlier attempt left on the target are deleted;
 * - copy: table by table, in pages, each page inserted with the target's progress row (resumable,
 *   never twice);
 * - verify: every table read back from both shards in lockstep pages: equal row counts and SHA-256
 *   of the canonical rows (surrogate keys left out), and equal keyword statistics;
 * - switch: the source becomes a tombstone ('moved'), the directory names the target (pinned), the
 *   target's fence goes: writes resume there;
 * - drain: the source stays intact while isolates' cached placements expire (≥ their TTL);
 * - purge: the source's rows are deleted; its tombstone stays.
 *
 * A failure before the switch (verification, or a cancel) rolls back: the source is unfenced at
 * once, the target's copy deleted, and the target keeps a tombstone. The move's state is saved in
 * the directory database between steps; one driver at a time holds its lease, and a crashed
 * driver's move is picked up by the next call after the lease expires.
 */
export class TenantMoves {
  private readonly budget: { steps: number; ms: number };

  constructor(private readonly d: TenantMovesDeps) {
    this.budget = d.budget ?? DEFAULT_BUDGET;
  }

  /** The drain when the caller names none: twice the placement TTL, for the directory's replicas to catch up too. */
  get defaultDrainMs(): number {
    return 2 * this.d.placementTtlMs;
  }

  /**
   * Starts moving `tenant` to shard `to`, or continues its move there, for one call's budget.
   * Moving a tenant to the shard it is on is a no-op that answers `done`; a tenant the directory
   * does not know is placed on `to` at once.
   */
  async move(tenant: string, to: string, drainSeconds?: number): Promise<MoveView> {
    const { store } = this.d;
    if (!store.shardNames.includes(to)) {
      const message = `unknown shard ${to}; the shards bound are ${store.shardNames.join(", ")}`;
      throw AppError.validation([{ field: "to", message }]);
    }
    const drainMs = drainSeconds === undefined ? this.defaultDrainMs : drainSeconds * 1000;
    if (drainMs < this.d.placementTtlMs) {
      const message = `must be at least ${this.d.placementTtlMs / 1000} (the placement cache TTL, PLACEMENT_TTL_SECONDS), or isolates could read the source after it is purged`;
      throw AppError.validation([{ field: "drain_seconds", message }]);
    }
    const current = await store.load(tenant);
    if (current && !finished(current.phase)) {
      if (current.to !== to) throw inProgress(current);
      return this.drive(current);
    }
    const now = this.d.clock();
    let placed = await store.placement(tenant);
    if (!placed) {
      // Never seen: it has no rows anywhere, so placing it is the whole move.
      placed = await store.placeIfAbsent(tenant, to, now);
      if (placed.shard === to) return placedView(tenant, null, to, now);
    }
    if (placed.shard === to) return placedView(tenant, to, to, placed.placedAt);
    await store.checkSchemas(placed.shard, to);
    const move = newMove(tenant, placed.shard, to, drainMs, now);
    const lease = { id: newId(now), until: now + LEASE_MS };
    if (!(await store.start(move, current, lease))) {
      // Another driver started a move of this tenant first.
      const other = await store.load(tenant);
      if (other && !finished(other.phase) && other.to !== to) throw inProgress(other);
      return other ? this.drive(other) : this.move(tenant, to, drainSeconds);
    }
    this.d.log.info("tenant move started", { tenant, from: move.from, to });
    return this.run(move, lease.id);
  }

  /**
   * Cancels a move that has not switched yet: the source takes writes again at once and the
   * target's copy is deleted (over one or more calls, like a move). 409 when there is no move in
   * progress, or it has switched (move the tenant back instead).
   */
  async cancel(tenant: string): Promise<MoveView> {
    const { store } = this.d;
    const now = this.d.clock();
    const lease = { id: newId(now), until: now + LEASE_MS };
    const before = await store.load(tenant);
    if (!before || finished(before.phase)) throw noMove(tenant);
    if (!(await store.lease(tenant, lease, now))) return this.busy(before);
    const move = (await store.load(tenant))!;
    if (finished(move.phase) || switched(move.phase)) {
      await store.save(move, lease.id, true);
      if (finished(move.phase)) throw noMove(tenant);
      throw new AppError(
        { code: "conflict", clash: "concurrent" },
        `the move of ${tenant} to ${move.to} has switched already (phase ${move.phase}); move it back instead`,
      );
    }
    if (move.phase !== "rollback") {
      this.fail(move, "cancelled");
      if (!(await store.save(move, lease.id, false))) return this.busy(move);
    }
    return this.run(move, lease.id);
  }

  /** A tenant's placement and latest move (finished or not). */
  async describe(tenant: string): Promise<TenantPlacementView> {
    const { store } = this.d;
    const [placement, move] = await Promise.all([store.placement(tenant), store.load(tenant)]);
    const retry = move && !finished(move.phase) ? await this.retryAfter(move) : null;
    return { tenant, placement, shards: store.shardNames, move: move ? this.view(move, retry) : null };
  }

  private async drive(seen: TenantMove): Promise<MoveView> {
    const now = this.d.clock();
    const lease = { id: newId(now), until: now + LEASE_MS };
    if (!(await this.d.store.lease(seen.tenant, lease, now))) return this.busy(seen);
    // Read again under the lease: the previous driver may have saved more since.
    const move = await this.d.store.load(seen.tenant);
    if (!move) throw new Error(`the move of ${seen.tenant} vanished`);
    return this.run(move, lease.id);
  }

  private async busy(move: TenantMove): Promise<MoveView> {
    return this.view(move, await this.retryAfter(move));
  }

  /** How long until calling again is useful: the rest of the drain, or of another driver's turn. */
  private async retryAfter(move: TenantMove): Promise<number | null> {
    const now = this.d.clock();
    if (move.phase === "drain" && move.switchedAt !== null) {
      const left = move.switchedAt + move.drainMs - now;
      if (left > 0) return left;
    }
    const until = await this.d.store.leaseUntil(move.tenant);
    return until !== null && until > now ? Math.min(until - now, BUSY_RETRY_MS) : null;
  }

  /** Steps the move (holding its lease) until done, waiting, or out of budget; saves it and lets the lease go. */
  private async run(move: TenantMove, leaseId: string): Promise<MoveView> {
    const { store, clock, log } = this.d;
    const deadline = clock() + this.budget.ms;
    const ctx: CallContext = { cursors: null, rollbackReady: false };
    let wait: number | null = null;
    try {
      for (let steps = 0; !finished(move.phase) && steps < this.budget.steps && clock() < deadline; steps++) {
        const before = move.phase;
        const r = await this.step(move, ctx);
        if (r.wait !== undefined) {
          wait = r.wait;
          break;
        }
        if (move.phase !== before) {
          move.updatedAt = clock();
          // Each phase is saved as it begins: a later driver never redoes a finished phase.
          if (!(await store.save(move, leaseId, false))) return this.busy(move);
          log.info("tenant move phase", { tenant: move.tenant, from: move.from, to: move.to, phase: move.phase });
        }
      }
    } catch (e) {
      if (asAppError(e)?.code === "storage_full" && (move.phase === "clear" || move.phase === "copy")) {
        // The target is full (D1's 10 GB): the move cannot finish; give the tenant back its writes.
        this.fail(move, `${move.to} is full: ${errorMessage(e)}`);
        move.updatedAt = clock();
        if (!(await store.save(move, leaseId, true))) return this.busy(move);
        return this.view(move, null);
      }
      if (!(e instanceof WriteConflict)) {
        await store.save(move, leaseId, true).catch(() => false);
        log.error("tenant move step failed", { tenant: move.tenant, phase: move.phase, error: errorMessage(e) });
        throw e;
      }
      // A guard found the fence or the copy progress other than this driver expected (another
      // driver, or a hand-made change): nothing was written; the next call starts from what is stored.
      log.warn("tenant move step conflicted", { tenant: move.tenant, phase: move.phase, error: errorMessage(e) });
      wait = BUSY_RETRY_MS;
      ctx.cursors = null;
    }
    move.updatedAt = clock();
    if (!(await store.save(move, leaseId, true))) return this.busy(move);
    return this.view(move, wait);
  }

  /** One bounded piece of work; `wait` when the move can only go on later. */
  private async step(m: TenantMove, ctx: CallContext): Promise<{ wait?: number }> {
    const { store, clock } = this.d;
    const tables = store.tables;
    const p = m.progress;
    const table = tables[p.table];
    switch (m.phase) {
      case "fence":
        // The source first: from this commit on, no write of the tenant lands there.
        await store.fence(m.from, m.tenant, movingFence(m));
        // The target too: until the switch only this mover writes there (a cron sweep of that
        // shard, or a writer with an ancient placement, gets 503 like everyone else).
        await store.fence(m.to, m.tenant, movingFence(m));
        return this.next(m, "clear");
      case "clear":
        if (!table) {
          await store.clearLeftovers(m.to, m.tenant);
          return this.next(m, "copy");
        }
        if (!(await store.deletePage(m.to, m.tenant, table, movingFence(m)))) p.table++;
        return {};
      case "copy": {
        ctx.cursors ??= await store.progress(m.to, m.tenant);
        const cursors = ctx.cursors;
        p.copied = Object.fromEntries(tables.map((t) => [t, cursors.get(t)?.rows ?? 0]));
        if (!table) return this.next(m, "verify");
        const at = cursors.get(table);
        const page = await store.copyPage(m.tenant, m.from, m.to, table, at?.after ?? null, movingFence(m));
        if (page.rows) {
          cursors.set(table, { after: page.after!, rows: (at?.rows ?? 0) + page.rows });
          p.copied[table] = (at?.rows ?? 0) + page.rows;
        }
        if (page.done) p.table++;
        return {};
      }
      case "verify":
        return this.verify(m);
      case "switch": {
        m.switchedAt = clock();
        // Tombstone first: a writer still placed on the source is refused there forever.
        await store.fence(m.from, m.tenant, movedFence(m));
        await store.switchPlacement(m.tenant, m.to, m.switchedAt);
        await store.unfence(m.to, m.tenant);
        await store.clearProgress(m.to, m.tenant);
        this.d.log.info("tenant move switched", { tenant: m.tenant, from: m.from, to: m.to });
        return this.next(m, "drain");
      }
      case "drain": {
        const left = (m.switchedAt ?? 0) + m.drainMs - clock();
        if (left > 0) return { wait: left };
        return this.next(m, "purge");
      }
      case "purge":
        if (!table) {
          await store.clearLeftovers(m.from, m.tenant);
          m.finishedAt = clock();
          return this.next(m, "done");
        }
        if (!(await store.deletePage(m.from, m.tenant, table, movedFence(m)))) p.table++;
        return {};
      case "rollback":
        if (!ctx.rollbackReady) {
          // The target keeps its fence while its copy is deleted; the source takes writes at once.
          await store.fence(m.to, m.tenant, movingFence(m));
          await store.unfence(m.from, m.tenant);
          ctx.rollbackReady = true;
        }
        if (!table) {
          await store.clearLeftovers(m.to, m.tenant);
          // A tombstone on the target: the tenant lives on the source.
          await store.fence(m.to, m.tenant, { state: "moved", to: m.from, at: clock() });
          m.finishedAt = clock();
          this.d.log.warn("tenant move rolled back", { tenant: m.tenant, from: m.from, to: m.to, error: m.error });
          return this.next(m, "failed");
        }
        if (!(await store.deletePage(m.to, m.tenant, table, movingFence(m)))) p.table++;
        return {};
      case "done":
      case "failed":
        return {};
    }
  }

  /** One lockstep page of the table being verified, on both shards. */
  private async verify(m: TenantMove): Promise<{ wait?: number }> {
    const { store } = this.d;
    const p = m.progress;
    const table = store.tables[p.table];
    if (!table) {
      const [a, b] = await Promise.all([store.keywordStats(m.from, m.tenant), store.keywordStats(m.to, m.tenant)]);
      if (a.docs !== b.docs || a.length !== b.length) {
        this.fail(m, `keyword statistics differ: ${m.from} ${a.docs}/${a.length}, ${m.to} ${b.docs}/${b.length}`);
        return {};
      }
      return this.next(m, "switch");
    }
    const start: SideSum = { after: null, rows: 0, sha256: EMPTY_SUM };
    const v = p.verifying ?? { source: start, target: start };
    const [s, t] = await Promise.all([
      store.checksumPage(m.from, m.tenant, table, v.source.after, VERIFY_ROWS),
      store.checksumPage(m.to, m.tenant, table, v.target.after, VERIFY_ROWS),
    ]);
    if (s.rows !== t.rows || s.sha256 !== t.sha256) {
      this.fail(m, `verification failed: ${table} differs between ${m.from} and ${m.to} after row ${v.source.rows}`);
      return {};
    }
    const source = { after: s.after, rows: v.source.rows + s.rows, sha256: await chainSum(v.source.sha256, s.sha256) };
    const target = { after: t.after, rows: v.target.rows + t.rows, sha256: await chainSum(v.target.sha256, t.sha256) };
    if (!s.done) {
      p.verifying = { source, target };
      return {};
    }
    const copied = p.copied[table] ?? 0;
    if (source.rows !== copied) {
      this.fail(m, `verification failed: ${table} has ${source.rows} rows on ${m.from}, ${copied} were copied`);
      return {};
    }
    p.checksums[table] = { rows: source.rows, sha256: source.sha256 };
    p.verifying = null;
    p.table++;
    return {};
  }

  private next(m: TenantMove, phase: MovePhase): { wait?: number } {
    m.phase = phase;
    m.progress.table = 0;
    m.progress.verifying = null;
    if (phase === "verify") m.progress.checksums = {};
    return {};
  }

  private fail(m: TenantMove, error: string): void {
    m.error = error;
    this.next(m, "rollback");
  }

  private view(m: TenantMove, retryAfterMs: number | null): MoveView {
    return {
      tenant: m.tenant,
      from: m.from,
      to: m.to,
      phase: m.phase,
      copied: m.progress.copied,
      checksums: m.progress.checksums,
      done: finished(m.phase),
      retryAfterMs: finished(m.phase) ? null : retryAfterMs,
      error: m.error,
      startedAt: m.startedAt,
      switchedAt: m.switchedAt,
      finishedAt: m.finishedAt,
    };
  }
}

/** The answer for a tenant that needed no copying: already on `to`, or placed there now. */
function placedView(tenant: string, from: string | null, to: string, at: number): MoveView {
  return {
    tenant,
    from,
    to,
    phase: "done",
    copied: {},
    checksums: {},
    done: true,
    retryAfterMs: null,
    error: null,
    startedAt: null,
    switchedAt: null,
    finishedAt: at,
  };
}

function inProgress(m: TenantMove): AppError {
  return new AppError(
    { code: "conflict", clash: "concurrent" },
    `a move of ${m.tenant} to ${m.to} is in progress (phase ${m.phase}); finish or cancel it first`,
  );
}

function noMove(tenant: string): AppError {
  return new AppError({ code: "conflict", clash: "concurrent" }, `no move of ${tenant} is in progress`);
}
