// How chat messages become model input.
//
// EVA is trained on dialogue: its input is the turns themselves, oldest first (system messages are
// dropped; EVA has no such notion). CPM-1 and CPM-2 are not chat-tuned, so the conversation is written
// out as a plain-text transcript that the model continues after the assistant's label:
//
//   <system message>\n            (when there is one)
//   用户：<user message>\n
//   助手：<assistant message>\n
//   …
//   助手：
//
// and generation stops where the model starts the user's next line (CHAT_STOP).
import type { ChatMessage } from './schemas.js';

export const USER_LABEL = '用户：';
export const ASSISTANT_LABEL = '助手：';
export const CHAT_STOP = `\n${USER_LABEL}`;

/** The transcript a non-chat model continues. */
export function chatPrompt(messages: readonly ChatMessage[]): string {
  const lines = messages.map((m) => (m.role === 'system' ? m.content : `${m.role === 'user' ? USER_LABEL : ASSISTANT_LABEL}${m.content}`));
  return `${lines.join('\n')}\n${ASSISTANT_LABEL}`;
}

/** EVA's dialogue context: the user and assistant turns in order. */
export function dialogueContext(messages: readonly ChatMessage[]): string[] {
  return messages.filter((m) => m.role !== 'system').map((m) => m.content);
}
