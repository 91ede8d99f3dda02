import { DEFAULT_RECENCY, recencyScore } from "./ranking.ts";
import type { Memory } from "./memory.ts";

const DAY_MS = 86_400_000;

/** The AMS forgetting policy. */
export interface ForgetPolicy {
  max_age_days?: number | null;
  max_inactive_days?: number | null;
  /** Keep at most this many eligible memories, the most recent by the recency score. */
  budget?: number | null;
  /** Only memories of these types may be forgotten. */
  memory_type_allowlist?: string[] | null;
  /** With both age and inactivity set, anything older than max_age_days × this goes regardless. */
  hard_age_multiplier?: number | null;
}

/** A forgetting pass: the policy, the owner it is limited to, and ids it must keep. */
export interface ForgetRequest {
  policy: ForgetPolicy;
  namespace?: string | null;
  user_id?: string | null;
  session_id?: string | null;
  limit: number;
  dry_run: boolean;
  pinned_ids: string[];
}

export interface ForgetResult {
  scanned: number;
  deleted: number;
  deleted_ids: string[];
  dry_run: boolean;
}

type Candidate = Pick<Memory, "id" | "memory_type" | "created_at" | "last_accessed" | "pinned">;

/**
 * Chooses which memories a forgetting pass deletes, as AMS does: age and inactivity thresholds
 * (both must hold when both are set, unless the memory is extremely old), then a budget keeping
 * the most recent survivors. Pinned memories and the given ids are never chosen.
 */
export function selectForForgetting(
  candidates: Candidate[],
  policy: ForgetPolicy,
  now: number,
  pinnedIds: ReadonlySet<string> = new Set(),
): string[] {
  const { max_age_days: maxAge, max_inactive_days: maxInactive, budget } = policy;
  const hardMultiplier = policy.hard_age_multiplier ?? 12;
  const allow = policy.memory_type_allowlist ? new Set(policy.memory_type_allowlist) : null;
  const chosen = new Set<string>();
  const survivors: Candidate[] = [];

  for (const m of candidates) {
    if (m.pinned || pinnedIds.has(m.id)) continue;
    if (allow && !allow.has(m.memory_type)) continue;
    const ageDays = (now - m.created_at) / DAY_MS;
    const inactiveDays = (now - m.last_accessed) / DAY_MS;
    const hasAge = maxAge !== null && maxAge !== undefined;
    const hasInactive = maxInactive !== null && maxInactive !== undefined;
    let forget: boolean;
    if (hasAge && hasInactive) {
      forget = ageDays > maxAge * hardMultiplier || (ageDays > maxAge && inactiveDays > maxInactive);
    } else {
      forget = (hasAge && ageDays > maxAge) || (hasInactive && inactiveDays > maxInactive);
    }
    if (forget) chosen.add(m.id);
    else survivors.push(m);
  }

  if (budget !== null && budget !== undefined && survivors.length > budget) {
    const ranked = survivors.map((m) => ({ m, r: recencyScore(m, now, DEFAULT_RECENCY) })).sort((a, b) => b.r - a.r);
    for (const { m } of ranked.slice(budget)) chosen.add(m.id);
  }
  return [...chosen];
}
