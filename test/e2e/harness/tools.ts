/**
 * Whether the end-to-end tools are here: Debian's Chromium and ffmpeg. Under CI=true a missing
 * tool fails the run (an Error at import); outside CI the suites skip with one line.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { CI } from '../../helpers/env.ts';

export const CHROMIUM = '/usr/bin/chromium';

function missingTools(): string[] {
  const missing: string[] = [];
  if (!fs.existsSync(CHROMIUM)) missing.push(`chromium (${CHROMIUM})`);
  if (spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status !== 0) missing.push('ffmpeg');
  return missing;
}

const missing = missingTools();
if (CI && missing.length > 0) {
  throw new Error(
    `CI=true but the end-to-end tools are missing: ${missing.join(', ')} (apt-get install chromium ffmpeg)`,
  );
}

/** false, or the one line saying why the end-to-end suites skip. */
export const e2eSkip: string | false =
  missing.length > 0
    ? `E2E tests skipped: ${missing.join(' and ')} not installed (apt-get install chromium ffmpeg to run them)`
    : false;
