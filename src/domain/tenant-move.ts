import * as z from "zod";
import { sha256Hex } from "./ids.ts";

/**
 * Moving a tenant between shards: the phases, the progress saved between steps, the fences.
 *
 * fence → clear → copy → verify → switch → drain → purge → done. Before the switch a failure (or a
 * cancel) goes to rollback → failed instead, and the tenant stays where it was. Only a move in
 * `done` or `failed` is finished; anything else is resumed by the next driver call.
 */
export const MOVE_PHASES = [
  "fence",
  "clear",
  "copy",
  "verify",
  "switch",
  "drain",
  "purge",
  "done",
  "rollback",
  "failed",
] as const;
export type MovePhase = (typeof MOVE_PHASES)[number];

/** A finished move: a new one may start. */
export function finished(phase: MovePhase): boolean {
  return phase === "done" || phase === "failed";
}

/** Whether the placement has already switched: from here on the only way back is a move back. */
export function switched(phase: MovePhase): boolean {
  return phase === "switch" || phase === "drain" || phase === "purge" || phase === "done";
}

/**
 * A position in a table's rows: the values of its order columns for the last row handled (the
 * source's surrogate key, or the primary key without the tenant). `[]` is a table of one row per
 * tenant; null is the start.
 */
export type Cursor = (string | number | null)[];

/** The rows and running checksum of one side of a table being verified. */
export interface SideSum {
  after: Cursor | null;
  rows: number;
  sha256: string;
}

/** What a table's verification found: its rows and the checksum of their canonical JSON. */
export interface TableSum {
  rows: number;
  sha256: string;
}

/** The progress of a move, saved with its phase. */
export interface MoveProgress {
  /** The table (index into the store's list) the phase works on: clear, copy, verify, purge, rollback. */
  table: number;
  /** Rows copied per table (as the target's progress records say). */
  copied: Record<string, number>;
  /** The table being verified: both sides' cursors and running checksums. */
  verifying: { source: SideSum; target: SideSum } | null;
  /** Verified tables: rows and checksum, equal on both sides. */
  checksums: Record<string, TableSum>;
}

/** One tenant's move (the latest: a finished one is replaced by the next). */
export interface TenantMove {
  tenant: string;
  from: string;
  to: string;
  phase: MovePhase;
  progress: MoveProgress;
  /** How long the placement drains after the switch before the source is purged. */
  drainMs: number;
  startedAt: number;
  updatedAt: number;
  switchedAt: number | null;
  finishedAt: number | null;
  /** Why a move failed (verification, or a cancel). */
  error: string | null;
}

export function newMove(tenant: string, from: string, to: string, drainMs: number, now: number): TenantMove {
  return {
    tenant,
    from,
    to,
    phase: "fence",
    progress: emptyProgress(),
    drainMs,
    startedAt: now,
    updatedAt: now,
    switchedAt: null,
    finishedAt: null,
    error: null,
  };
}

export function emptyProgress(): MoveProgress {
  return { table: 0, copied: {}, verifying: null, checksums: {} };
}

/**
 * A write fence row (migration 0009's `tenant_fences`): while one exists on a shard, every write of
 * the tenant's rows there aborts. A move fences the source and the target from its start; the
 * mover's own writes lift the fence inside their transaction (store/tenant-copy.ts).
 */
export interface Fence {
  state: "moving" | "purging" | "moved";
  /** The shard the tenant is going to, or (a tombstone) where it lives now. */
  to: string;
  at: number;
}

/** The fence of both shards from the start of a move until its switch. */
export function movingFence(m: TenantMove): Fence {
  return { state: "moving", to: m.to, at: m.startedAt };
}

/** The tombstone the source keeps from the switch on: a writer with a stale placement can never write there. */
export function movedFence(m: TenantMove): Fence {
  return { state: "moved", to: m.to, at: m.switchedAt ?? m.startedAt };
}

const cursor = z.array(z.union([z.string(), z.number(), z.null()]));
const side = z.object({ after: cursor.nullable(), rows: z.number().int().min(0), sha256: z.string() });
const progressSchema = z.object({
  table: z.number().int().min(0).catch(0),
  copied: z.record(z.string(), z.number().int().min(0)).catch({}),
  verifying: z.object({ source: side, target: side }).nullable().catch(null),
  checksums: z.record(z.string(), z.object({ rows: z.number().int().min(0), sha256: z.string() })).catch({}),
});

/**
 * A move's stored progress, read back. Unreadable progress restarts the phase's table loop (every
 * phase is idempotent: clearing and purging delete what is there, the copy resumes from the
 * target's own progress rows, verification starts over).
 */
export function parseProgress(text: unknown): MoveProgress {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    return emptyProgress();
  }
  const r = progressSchema.safeParse(value);
  return r.success ? r.data : emptyProgress();
}

/** The SHA-256 of no rows: where a table's running checksum starts. */
export const EMPTY_SUM = "";

/** A table's running checksum after one more page: SHA-256 of the previous sum and the page's digest. */
export async function chainSum(previous: string, pageDigest: string): Promise<string> {
  return sha256Hex(`${previous}:${pageDigest}`);
}

/**
 * The canonical form a page of rows is checksummed in: each row an array of its column values in
 * the table's column order (surrogate keys left out), rows in the table's order, as JSON.
 */
export function canonicalRows(rows: readonly (readonly unknown[])[]): string {
  return JSON.stringify(rows);
}

/** The directory's entry for a tenant. */
export interface Placement {
  shard: string;
  /** An operator chose it (a move), rather than hashing on first sight. */
  pinned: boolean;
  placedAt: number;
}

/** A page read from the source and written to the target. */
export interface CopiedPage {
  rows: number;
  /** The cursor after the page (unchanged when it was empty). */
  after: Cursor | null;
  /** No rows are left after this page. */
  done: boolean;
}

/** A page checksummed on one shard. */
export interface SummedPage {
  rows: number;
  after: Cursor | null;
  done: boolean;
  /** SHA-256 of the page's canonical JSON (`canonicalRows`). */
  sha256: string;
}

/** The longest drain a caller may ask for. */
export const MAX_DRAIN_SECONDS = 3_600;

/** What a driver call answers: the move as it stands after the call's work. */
export interface MoveView {
  tenant: string;
  /** The shard the tenant leaves (null: it was on none, and was placed on `to` directly). */
  from: string | null;
  to: string;
  phase: MovePhase;
  /** Rows copied per table. */
  copied: Record<string, number>;
  /** Verified tables: rows and checksum, equal on both shards. */
  checksums: Record<string, TableSum>;
  /** The move is finished (`done`, or `failed` with `error`). */
  done: boolean;
  /** Call again after this long (the drain, or another driver's turn); null: at once, unless done. */
  retryAfterMs: number | null;
  error: string | null;
  startedAt: number | null;
  switchedAt: number | null;
  finishedAt: number | null;
}

/** A tenant's placement and its latest move. */
export interface TenantPlacementView {
  tenant: string;
  placement: Placement | null;
  shards: readonly string[];
  move: MoveView | null;
}
