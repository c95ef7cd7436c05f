export { type BminfServer, type ServerOptions, startServer } from './server.js';
export { serveCommand } from './command.js';
export { BODY_LIMIT } from './app.js';
export type { ModelSource, ServedArchitecture, ServedModel } from './served-model.js';
export { ASSISTANT_LABEL, CHAT_STOP, USER_LABEL, chatPrompt } from './chat-template.js';
