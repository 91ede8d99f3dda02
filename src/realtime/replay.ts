/**
 * What a reconnecting socket gets for `?since=`: every event after `since` in order, or — when
 * `since` is older than the retained log, in the future, or not a sequence number — a gap first,
 * telling the client to resync. Never an error: a client's reconnect loop must always get a socket.
 */

/** The `data` of a gap frame: where the client stood, what the hub holds, and where the replay resumes. */
export interface Gap {
  /** The `since` the client sent, or null when it is not a sequence number. */
  since: number | null;
  /** The oldest event still held for replay (null: none held). */
  oldest_seq: number | null;
  /** The last event numbered. */
  latest_seq: number;
  /** Events after this sequence number follow the gap frame (then live events). */
  resume_after: number;
}

export interface ReplayPlan {
  /** Sent first when events were missed for good or `since` is unusable. */
  gap: Gap | null;
  /** Replay the retained events after this sequence number; null: none (live events only). */
  after: number | null;
}

/** Sequence numbers are non-negative safe integers; up to 15 digits parse exactly. */
const SEQ = /^\d{1,15}$/;

/**
 * The replay for a raw `since` query value against the log's bounds (`oldest` is null when the
 * log is empty). Null when the client did not ask for a replay.
 */
export function planReplay(raw: string | null, oldest: number | null, latest: number): ReplayPlan | null {
  if (raw === null) return null;
  const since = SEQ.test(raw) ? Number(raw) : null;
  if (since === null || since > latest) {
    // Unknown position (or one this hub never reached, e.g. a reset): resync from now.
    return { gap: { since, oldest_seq: oldest, latest_seq: latest, resume_after: latest }, after: null };
  }
  if (oldest !== null && since < oldest - 1) {
    return { gap: { since, oldest_seq: oldest, latest_seq: latest, resume_after: oldest - 1 }, after: oldest - 1 };
  }
  return { gap: null, after: since };
}
