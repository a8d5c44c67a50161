/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. The first
 * failure stops new work from starting, aborts `abort` (when given, so that the calls in flight can stop early) and
 * is thrown once the calls already running have settled.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  abort?: AbortController,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        if (failure === undefined) {
          failure = { error };
          abort?.abort(error);
        }
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  if (failure) throw failure.error;
  return results;
}
