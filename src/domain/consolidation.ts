export interface ConsolidationResult {
  checked: number;
  merged: number;
  removed: number;
  forgotten: number;
}

/** How far consolidation got: memories are visited in (updated_at, id) order. */
export interface ConsolidationCursor {
  at: number;
  id: string;
}
