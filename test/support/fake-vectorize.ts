/**
 * A Vectorize double that behaves like the real index where it matters here: mutations are
 * accepted at once but become queryable only after `lagMs`, in order (`"held"`: not until
 * `settle()`, so a test can assert "not indexed yet" however slow the machine is); `describe()` reports
 * the time of the last processed mutation; vectors live in namespaces; metadata filters use
 * $eq/$ne/$in/$nin; topK above 100 is refused.
 */
export class FakeVectorize {
  failQueries = false;
  failWrites = false;
  readonly upserts: { id: string; namespace?: string }[][] = [];
  private readonly vectors = new Map<
    string,
    { id: string; values: number[]; namespace?: string; metadata: Record<string, unknown> }
  >();
  private processedAt: number | null = null;
  private processedMutation: string | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** Held mutations waiting for `settle()`, and whether one is releasing them. */
  private held: (() => void)[] = [];
  private releasing = false;

  constructor(readonly lagMs: number | "held" = 200) {}

  async upsert(vectors: { id: string; values: number[]; namespace?: string; metadata?: Record<string, unknown> }[]) {
    if (this.failWrites) throw new Error("VECTOR_UPSERT_ERROR (fake)");
    this.upserts.push(vectors.map((v) => ({ id: v.id, namespace: v.namespace })));
    return this.mutate(() => {
      for (const v of vectors)
        this.vectors.set(v.id, { ...v, values: Array.from(v.values), metadata: v.metadata ?? {} });
    });
  }

  async deleteByIds(ids: string[]) {
    if (this.failWrites) throw new Error("VECTOR_DELETE_ERROR (fake)");
    return this.mutate(() => {
      for (const id of ids) this.vectors.delete(id);
    });
  }

  async query(
    vector: number[],
    opts: { topK?: number; namespace?: string; filter?: Record<string, Record<string, unknown>> } = {},
  ) {
    if (this.failQueries) throw new Error("VECTOR_QUERY_ERROR (fake)");
    const topK = opts.topK ?? 5;
    if (topK > 100) throw new Error("VECTOR_QUERY_ERROR: topK exceeds 100");
    const matches = [...this.vectors.values()]
      .filter((v) => v.namespace === opts.namespace && matches_(v.metadata, opts.filter ?? {}))
      .map((v) => ({ id: v.id, score: cosine(vector, v.values) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
    return { matches, count: matches.length };
  }

  async getByIds(ids: string[]) {
    return ids.flatMap((id) => {
      const v = this.vectors.get(id);
      return v ? [v] : [];
    });
  }

  async describe() {
    return {
      vectorCount: this.vectors.size,
      dimensions: 256,
      processedUpToDatetime: this.processedAt === null ? null : new Date(this.processedAt).toISOString(),
      processedUpToMutation: this.processedMutation,
    };
  }

  /** Resolves once every accepted mutation has been applied (releasing held ones). */
  async settle(): Promise<void> {
    this.releasing = true;
    this.held.splice(0).forEach((apply) => apply());
    try {
      await this.queue;
    } finally {
      this.releasing = false;
    }
  }

  has(id: string): boolean {
    return this.vectors.has(id);
  }

  private mutate(apply: () => void) {
    const mutationId = crypto.randomUUID();
    const acceptedAt = Date.now();
    this.queue = this.queue.then(
      () =>
        new Promise<void>((resolve) => {
          const done = () => {
            apply();
            this.processedAt = acceptedAt;
            this.processedMutation = mutationId;
            resolve();
          };
          if (this.lagMs !== "held") setTimeout(done, this.lagMs);
          else if (this.releasing) done();
          else this.held.push(done);
        }),
    );
    return { mutationId };
  }
}

function matches_(meta: Record<string, unknown>, filter: Record<string, Record<string, unknown>>): boolean {
  return Object.entries(filter).every(([field, cond]) =>
    Object.entries(cond).every(([op, value]) => {
      const v = meta[field];
      if (op === "$eq") return v === value;
      if (op === "$ne") return v !== value;
      if (op === "$in") return (value as unknown[]).includes(v);
      if (op === "$nin") return !(value as unknown[]).includes(v);
      throw new Error(`unsupported operator ${op}`);
    }),
  );
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb) || 1);
}
