/** Options a MongoDB connection string carries, read as the driver reads them. */
import { ConfigError } from './error.ts';

/** Used when MONGO_URL does not carry serverSelectionTimeoutMS / socketTimeoutMS. */
export const MONGO_SERVER_SELECTION_TIMEOUT_MS = 3000;
export const MONGO_SOCKET_TIMEOUT_MS = 30_000;

/** A whole-number option in a connection string's query (any case, as the driver reads it). */
export function mongoUrlOption(url: string, option: string): number | undefined {
  const query = url.split('?')[1] ?? '';
  for (const pair of query.split('&')) {
    const [k = '', v = ''] = pair.split('=');
    if (k.toLowerCase() !== option.toLowerCase()) continue;
    if (!/^\d+$/.test(v)) throw new ConfigError('MONGO_URL', `${option} must be a whole number, got "${v}"`);
    return Number(v);
  }
  return undefined;
}
