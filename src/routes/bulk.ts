// What the bulk routes (POST /v1/publish, POST /v1/jobs/events) share: one result per
// item, items grouped by the object they go to, groups concurrently, each group in order.

/** Key for an item that failed before it reached any object: `!` is never part of an id. */
export const invalidKey = (index: number): string => `!${index}`;

/**
 * Groups the items 0..count-1 by `keyOf`, runs the groups concurrently (each with its
 * items in the order given), and answers the results in item order with the failed count.
 */
export async function runGrouped<R extends { ok: boolean }>(
  count: number,
  keyOf: (index: number) => string,
  runGroup: (key: string, indexes: number[]) => Promise<R[]>,
): Promise<{ results: R[]; failed: number }> {
  const groups = new Map<string, number[]>();
  for (let index = 0; index < count; index++) {
    const key = keyOf(index);
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  }
  const results: R[] = new Array(count);
  await Promise.all(
    [...groups].map(async ([key, indexes]) => {
      const answers = await runGroup(key, indexes);
      indexes.forEach((index, k) => {
        results[index] = answers[k] as R;
      });
    }),
  );
  return { results, failed: results.filter((r) => !r.ok).length };
}
