/**
 * Moved to src/qoe/dialects/; kept only because src/qoe/session.ts (being rewritten elsewhere)
 * still imports it from here. Delete once session.ts imports './dialects/index.ts'.
 */
export { toSignals } from './dialects/index.ts';
