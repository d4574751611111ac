/** The embedded store's data directory (DATA_DIR), checked before anything writes to it. */
import fs from 'node:fs';
import { ConfigError } from '../../config/index.ts';

/**
 * Checks the data directory before anything touches it, so a bad DATA_DIR stops start-up with
 * a message naming the variable (rather than a raw error, or Node's recursive mkdir looping on
 * /proc).
 */
export function checkDataDir(dir: string): void {
  const bad = (why: string) => new ConfigError('DATA_DIR', `"${dir}" ${why}`);
  if (/^\/(proc|sys|dev)(\/|$)/.test(dir))
    throw bad('is on a kernel file system; choose a directory on a disk');
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    // missing: created below
  }
  if (st && !st.isDirectory()) throw bad('exists and is not a directory');
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw bad(
      `cannot be created or written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}
