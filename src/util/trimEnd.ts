/**
 * `text` without the trailing characters listed in `chars`, in linear time. A regex such as `/[ \t]+$/` is
 * quadratic on a long run of those characters that is not at the end (`"a" + " ".repeat(500_000) + "b"` takes
 * minutes): the engine retries the run from each of its positions.
 */
export function trimEnd(text: string, chars: string): string {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1]!)) end--;
  return end === text.length ? text : text.slice(0, end);
}
