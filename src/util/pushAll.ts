/**
 * Appends `items` to `target` in a loop. `target.push(...items)` passes every item as an argument, and an array
 * of a few hundred thousand items (a huge line, a hostile registry reply) overflows the stack.
 */
export function pushAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}
