import { normalize, type Embedder } from "./embedder.ts";

/** Workers AI text embeddings (bge-base-en-v1.5 by default: 768 dimensions). */
export class WorkersAiEmbedder implements Embedder {
  /** Neural similarities are meaningful across the range; ranking decides. */
  readonly noiseFloor = 0;
  readonly semantic = true;
  /** bge models place related but distinct statements around 0.8–0.9: only near-identity counts. */
  readonly nearDuplicate = 0.95;
  /**
   * bge v1.5 models put unrelated question–statement pairs around 0.3–0.5 and related ones above
   * 0.6 (their authors: "the similarity distribution" widened from v1's [0.6, 1]). A starting
   * value, not yet calibrated on a corpus; keyword matches still count on their own.
   */
  readonly relevanceFloor = 0.55;

  constructor(
    private readonly ai: Ai,
    readonly model: string,
    readonly dimensions: number,
  ) {}

  async embedQuery(text: string): Promise<Float32Array> {
    return (await this.embed([text]))[0]!;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    // Workers AI takes at most 100 texts per embedding call.
    for (let i = 0; i < texts.length; i += 100) {
      const batch = texts.slice(i, i + 100);
      const result = (await this.ai.run(this.model as keyof AiModels, { text: batch } as never)) as {
        data?: number[][];
      };
      if (!result.data || result.data.length !== batch.length) {
        throw new Error(
          `embedding model ${this.model} returned ${result.data?.length ?? 0} vectors for ${batch.length} texts`,
        );
      }
      for (const row of result.data) {
        if (row.length !== this.dimensions) {
          throw new Error(
            `embedding model ${this.model} returned ${row.length} dimensions, expected ${this.dimensions}`,
          );
        }
        out.push(normalize(Float32Array.from(row)));
      }
    }
    return out;
  }
}
