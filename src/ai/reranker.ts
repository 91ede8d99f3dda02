/** A second-stage scorer: reads the query and each text together (a cross-encoder), higher is more relevant. */
export interface Reranker {
  readonly model: string;
  /** One score per text, in the texts' order. */
  rerank(query: string, texts: string[]): Promise<number[]>;
}
