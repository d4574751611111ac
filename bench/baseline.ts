/**
 * The code to compare against (`--baseline=<git rev>`): a detached worktree of that commit in a
 * temp dir, sharing this checkout's node_modules, so old and new code run in the same bench run
 * on the same machine state. Removed when the run ends.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from '../scripts/ferretdb.mjs';

export interface Baseline {
  rev: string;
  /** Root of the checkout (run its src/cli.ts with tsx). */
  root: string;
  remove(): void;
}

export function checkoutBaseline(rev: string): Baseline {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-baseline-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  const full = git('rev-parse', '--short', rev);
  git('worktree', 'add', '--detach', dir, full);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    rev: full,
    root: dir,
    remove() {
      try {
        git('worktree', 'remove', '--force', dir);
      } catch {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
