/**
 * Test media made with ffmpeg at test time: a 20 s, 3-rendition H.264/AAC stream packaged once
 * as DASH (manifest.mpd) and fMP4 HLS (master.m3u8) sharing the same segments. Made once per
 * machine into the temp dir (keyed by the recipe), so parallel test files and reruns reuse it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Rendition {
  width: number;
  height: number;
  /** Video bitrate, bits per second. */
  bitrate: number;
}

export interface TestMedia {
  dir: string;
  /** Paths relative to dir. */
  dash: string;
  hls: string;
  durationS: number;
  renditions: Rendition[];
}

const DURATION_S = 20;
const RENDITIONS: Rendition[] = [
  { width: 320, height: 180, bitrate: 250_000 },
  { width: 640, height: 360, bitrate: 800_000 },
  { width: 1280, height: 720, bitrate: 2_500_000 },
];

function ffmpegArgs(): string[] {
  const n = RENDITIONS.length;
  const split = `[0:v]split=${n}${RENDITIONS.map((_, i) => `[s${i}]`).join('')};`;
  const scales = RENDITIONS.map((r, i) => `[s${i}]scale=${r.width}:${r.height}[v${i}]`).join(';');
  const perRendition = RENDITIONS.flatMap((r, i) => [
    `-b:v:${i}`,
    String(r.bitrate),
    `-maxrate:v:${i}`,
    String(r.bitrate),
    `-bufsize:v:${i}`,
    String(r.bitrate * 2),
  ]);
  return [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=24`],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', String(DURATION_S), '-filter_complex', split + scales],
    ...RENDITIONS.flatMap((_, i) => ['-map', `[v${i}]`]),
    ...['-map', '1:a'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p'],
    ...['-g', '48', '-keyint_min', '48', '-sc_threshold', '0'],
    ...perRendition,
    ...['-c:a', 'aac', '-b:a', '64k', '-ac', '2'],
    ...['-f', 'dash', '-seg_duration', '2', '-use_template', '1', '-use_timeline', '0'],
    ...['-adaptation_sets', 'id=0,streams=v id=1,streams=a', '-hls_playlist', '1'],
    ...['-init_seg_name', 'init-$RepresentationID$.m4s'],
    ...['-media_seg_name', 'seg-$RepresentationID$-$Number%03d$.m4s'],
    'manifest.mpd',
  ];
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg failed (${code}): ${err.slice(-2000)}`));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test stream, generated on first use (other processes wait for the one making it). */
export async function ensureMedia(): Promise<TestMedia> {
  const args = ffmpegArgs();
  const key = createHash('sha1').update(JSON.stringify(args)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `stats-e2e-media-${key}`);
  const media: TestMedia = {
    dir,
    dash: 'manifest.mpd',
    hls: 'master.m3u8',
    durationS: DURATION_S,
    renditions: RENDITIONS,
  };
  const done = path.join(dir, '.complete');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 240_000;
  while (!fs.existsSync(done)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for test media in ${dir}`);
    try {
      fs.mkdirSync(lock);
    } catch {
      // Someone else is making it; a lock older than 4 minutes is from a killed run.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 240_000) fs.rmSync(lock, { recursive: true, force: true });
      await sleep(250);
      continue;
    }
    try {
      const tmp = fs.mkdtempSync(`${dir}.tmp-`);
      await run('ffmpeg', args, tmp);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
      fs.writeFileSync(done, new Date().toISOString());
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return media;
}
