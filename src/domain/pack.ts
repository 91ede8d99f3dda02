/**
 * Splits items into consecutive groups, keeping their order: each group holds at most `maxItems`
 * items whose sizes sum to at most `maxSize` (an item larger than that alone gets a group of its
 * own). For whatever must go out in calls of bounded size: event publishes, summarization
 * prompts, batched writes.
 */
export function packInOrder<T>(
  items: Iterable<T>,
  sizeOf: (item: T) => number,
  maxSize: number,
  maxItems = Number.POSITIVE_INFINITY,
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length && (current.length >= maxItems || used + size > maxSize)) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += size;
  }
  if (current.length) groups.push(current);
  return groups;
}
