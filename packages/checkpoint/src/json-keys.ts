// JSON.parse keeps the last of two equal keys without a word. In a safetensors header that means a
// tensor silently read from other bytes than a first entry says, so duplicates are looked for first.

/**
 * The first key that appears twice in one object of `text` (which JSON.parse has accepted), with its
 * path, or undefined. A single pass over the text: strings are skipped as a whole, nesting is tracked
 * with a stack of the keys seen in each open object.
 */
export function findDuplicateKey(text: string): { key: string; path: string[] } | undefined {
  const stack: { keys: Set<string> | null; last: string }[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, path: stack.slice(0, -1).map((f) => f.last) };
        top.keys.add(key);
        top.last = key;
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push({ keys: new Set(), last: '' });
      expectKey = true;
    } else if (c === '[') {
      stack.push({ keys: null, last: '' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = !!stack[stack.length - 1]?.keys; // a ',' in an object comes before a key
    }
  }
  return undefined;
}
