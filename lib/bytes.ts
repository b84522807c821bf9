/** Joins byte chunks into one new array (`length` is their total, when the caller already knows it). */
export function concatBytes(chunks: readonly Uint8Array[], length?: number): Uint8Array {
  let total = length ?? 0;
  if (length === undefined) { for (const chunk of chunks) total += chunk.byteLength; }
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
