// The explorer's load time, for `npm run bench`: cold loads of /explorer/#/memories (a new browser
// context each, so nothing is cached) in Debian's Chromium, against the bench's wrangler dev.
import { CHROMIUM, launchChromium } from "../e2e/explorer/harness.ts";

export interface ExplorerTiming {
  loads: number;
  /** Median first contentful paint (the frame or the sign-in, whichever the server's auth gives). */
  first_paint_ms: number;
  /** Median time until the memory table has its first page of data. */
  data_ms: number;
  /** Bytes on the wire for the page, its script and stylesheet (uncompressed). */
  bytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** null when there is no Chromium (the bench says so and carries on). */
export async function measureExplorer(base: string, loads = 7): Promise<ExplorerTiming | null> {
  if (!CHROMIUM) return null;
  const browser = await launchChromium();
  const paint: number[] = [];
  const data: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < loads; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      let total = 0;
      page.on("response", async (r) => {
        if (r.url().includes("/explorer/")) total += (await r.body().catch(() => Buffer.alloc(0))).length;
      });
      await page.goto(`${base}/explorer/#/memories`);
      await page.locator("#view [data-ready]").waitFor({ timeout: 10_000 });
      const t = await page.evaluate(() => ({
        paint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
        now: performance.now(),
      }));
      paint.push(t.paint);
      data.push(t.now);
      bytes = total;
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  return { loads, first_paint_ms: round(median(paint)), data_ms: round(median(data)), bytes };
}
