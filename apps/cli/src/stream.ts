/**
 * Runs one of the models' streaming generators to its end, handing each chunk to onChunk (the commands
 * print it unless --json), and returns the generator's result (ids, text, finish reason). `for await`
 * would drop that result, which is the generator's return value, not a chunk.
 */
export async function drain<T, R>(it: AsyncGenerator<T, R>, onChunk: (chunk: T) => void): Promise<R> {
  let r = await it.next();
  while (!r.done) {
    onChunk(r.value);
    r = await it.next();
  }
  return r.value;
}
