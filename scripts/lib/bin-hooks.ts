/** Node module hooks (registered by bin-modules.ts): a `*.bin` module's default export is its bytes as an ArrayBuffer. */
interface LoadResult {
  format: string;
  source?: string;
  shortCircuit?: boolean;
}

export async function load(
  url: string,
  context: unknown,
  nextLoad: (url: string, context: unknown) => Promise<LoadResult>,
): Promise<LoadResult> {
  if (!url.endsWith(".bin")) return nextLoad(url, context);
  const source =
    `import { readFileSync } from "node:fs";\n` +
    `const b = readFileSync(new URL(${JSON.stringify(url)}));\n` +
    `export default b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);\n`;
  return { format: "module", source, shortCircuit: true };
}
