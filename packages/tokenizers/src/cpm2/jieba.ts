// Word segmentation through jieba-wasm (jieba-rs compiled to WebAssembly). With the HMM on it
// segments as Python's jieba 0.42.1 does by default (`jieba.cut(text, cut_all=False)`), which is
// what BMInf calls.
import { cut } from 'jieba-wasm';

export function jiebaCut(text: string): string[] {
  if (text.length === 0) return [];
  return cut(text, true);
}
