/**
 * The embedded store is single-node: one server process (with its cluster workers) per DATA_DIR.
 * The serving process takes an exclusive lock, DATA_DIR/stats-server.lock, so that a second
 * server on the same SQLite file stops at start-up with a clear message instead of sharing it.
 *
 * proper-lockfile (a maintained package) makes the lock: an atomic mkdir whose mtime the holder
 * refreshes every second, released on exit (also on signals), and stale once not refreshed, so a
 * killed server's lock never blocks a restart. It works on network and container volumes, where
 * an OS advisory lock (flock) may not, and Node has no flock without a native module. Beside it,
 * stats-server.owner.json names the holder (pid, host), so that a second server on the same host
 * is refused at once and a restart after a crash waits only ~2 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ConfigError } from '../config/index.ts';
import { checkDataDir } from '../store/sqlite/data-dir.ts';

export const LOCK_NAME = 'stats-server.lock';
const OWNER_NAME = 'stats-server.owner.json';
/** A holder's lock is stale once not refreshed for this long (a hung or killed process). */
const STALE_MS = 10_000;
/** How often the holder refreshes it (well under STALE_MS and under DEAD_HOLDER_STALE_MS). */
const UPDATE_MS = 1_000;
/** When the holder is known dead (same host, no such pid), its lock is stale this much sooner. */
const DEAD_HOLDER_STALE_MS = 2_000;

interface Owner {
  pid: number;
  hostname: string;
  started: string;
}

/** Releases the lock (it is also released when the process exits). */
export type Release = () => Promise<void>;

function readOwner(dataDir: string): Owner | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, OWNER_NAME), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dataDir: string, owner: Owner | undefined): ConfigError {
  const who = owner ? ` (pid ${owner.pid} on ${owner.hostname}, since ${owner.started})` : '';
  return new ConfigError(
    'DATA_DIR',
    `${dataDir} is in use by another stats-server${who}. The embedded SQLite store is single-node: ` +
      'stop that server, give this one its own DATA_DIR, or run several servers on one MongoDB (STORAGE=mongodb).',
  );
}

/**
 * Takes the DATA_DIR lock or throws a ConfigError naming DATA_DIR (the CLI exits with 2).
 * onLost runs if the lock is lost while serving (DATA_DIR removed, or the process stalled past
 * STALE_MS and another server took it): the caller should shut down.
 */
export async function lockDataDir(dataDir: string, onLost: (err: Error) => void): Promise<Release> {
  checkDataDir(dataDir);
  const lockPath = path.join(dataDir, LOCK_NAME);
  const take = (retries = 0) =>
    lockfile.lock(dataDir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: STALE_MS,
      update: UPDATE_MS,
      retries: { retries, factor: 1, minTimeout: 500, maxTimeout: 500 },
      onCompromised: onLost,
    });
  const locked = async (attempt: () => Promise<() => Promise<void>>): Promise<Release | undefined> => {
    try {
      const release = await attempt();
      const owner: Owner = { pid: process.pid, hostname: os.hostname(), started: new Date().toISOString() };
      fs.writeFileSync(path.join(dataDir, OWNER_NAME), `${JSON.stringify(owner)}\n`);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
      throw err;
    }
  };

  const first = await locked(() => take());
  if (first) return first;

  const owner = readOwner(dataDir);
  const sameHost = owner?.hostname === os.hostname();
  // Our own pid in the owner file is a previous run's (a restarted container has the same pid).
  if (owner && sameHost && owner.pid !== process.pid && alive(owner.pid)) throw inUse(dataDir, owner);
  const holderDead = owner !== undefined && sameHost;
  if (holderDead) {
    // Its lock is stale once it has not been refreshed for DEAD_HOLDER_STALE_MS (a live holder
    // refreshes every UPDATE_MS, so this cannot take a lock that is in use).
    for (let waited = 0; waited <= DEAD_HOLDER_STALE_MS + UPDATE_MS; waited += 250) {
      const mtime = statMtime(lockPath);
      if (mtime === undefined || mtime < Date.now() - DEAD_HOLDER_STALE_MS) {
        fs.rmSync(lockPath, { recursive: true, force: true });
        const got = await locked(() => take());
        if (got) return got;
        throw inUse(dataDir, readOwner(dataDir));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw inUse(dataDir, owner);
  }
  // A holder on another host (a shared volume), or unknown: wait until its lock goes stale.
  const got = await locked(() => take(Math.ceil((STALE_MS + 2 * UPDATE_MS) / 500)));
  if (got) return got;
  throw inUse(dataDir, readOwner(dataDir));
}

function statMtime(p: string): number | undefined {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}
