// The Docker image's file set: reads the Dockerfile's runtime stage (its WORKDIR, COPY lines and
// CMD), assembles the same files into a temp dir (building first if dist/ is missing), runs the
// CMD from there on SQLite on a loopback port, and checks the API, the dashboard and the SDK.
// There is no Docker engine here, so this is the image minus the base layer.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../helpers/server-process.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface RuntimeStage {
  workdir: string;
  copies: { from: string | undefined; sources: string[]; dest: string }[];
  cmd: string[];
  /** The path the HEALTHCHECK asks for, if any. */
  healthPath: string | undefined;
}

/** The last stage of a Dockerfile: WORKDIR, COPY (with or without --from) and CMD (exec form). */
function runtimeStage(dockerfile: string): RuntimeStage {
  // Join continuation lines, drop comments.
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  assert.ok(lastFrom >= 0, 'the Dockerfile has a FROM');
  const stage: RuntimeStage = { workdir: '/', copies: [], cmd: [], healthPath: undefined };
  for (const line of lines.slice(lastFrom + 1)) {
    const [instr = '', ...rest] = line.split(/\s+/);
    switch (instr.toUpperCase()) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, rest.join(' '));
        break;
      case 'COPY': {
        const flags = rest.filter((a) => a.startsWith('--'));
        const paths = rest.filter((a) => !a.startsWith('--'));
        const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
        assert.ok(paths.length >= 2, `COPY needs a source and a destination: ${line}`);
        stage.copies.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1) as string });
        break;
      }
      case 'CMD':
        stage.cmd = JSON.parse(rest.join(' '));
        break;
      case 'HEALTHCHECK':
        stage.healthPath = /https?:\/\/[^/'"\s]+(\/[^'"\s]*)/.exec(line)?.[1];
        break;
    }
  }
  return stage;
}

/**
 * Copies one COPY line into `dir` (the image's WORKDIR). Sources of the build stage are the repo
 * after `npm run build` (its WORKDIR is the repo root). node_modules is linked, not copied: it
 * is large, and which packages it holds is npm's business, not the layout's.
 */
function assemble(stage: RuntimeStage, dir: string): void {
  const buildWorkdir = '/app';
  for (const c of stage.copies) {
    for (const src of c.sources) {
      const rel = c.from ? path.posix.relative(buildWorkdir, path.posix.resolve(buildWorkdir, src)) : src;
      assert.ok(!rel.startsWith('..'), `COPY source outside the build dir: ${src}`);
      const from = path.join(ROOT, rel);
      assert.ok(fs.existsSync(from), `the Dockerfile copies ${src}, which the build did not produce`);
      const destAbs = path.posix.resolve(stage.workdir, c.dest);
      const destRel = path.posix.relative(stage.workdir, destAbs);
      const toDir = c.dest.endsWith('/') || c.sources.length > 1;
      const to = path.join(dir, destRel, toDir ? path.basename(from) : '');
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if (path.basename(from) === 'node_modules') linkModules(from, to);
      else fs.cpSync(from, to, { recursive: true });
    }
  }
}

/**
 * node_modules without copying it: each package linked to the repo's, except npm's relative
 * links to workspace packages, which are kept as they are (COPY keeps them too), so they resolve
 * inside the image, to what the runtime stage copies of packages/, as they do in the image.
 */
function linkModules(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.name.startsWith('@') && e.isDirectory()) linkModules(src, dst);
    else if (e.isSymbolicLink() && !path.isAbsolute(fs.readlinkSync(src)))
      fs.symlinkSync(fs.readlinkSync(src), dst);
    else fs.symlinkSync(src, dst, 'dir');
  }
}

function mtime(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
}

/** The newest modification time of the files under dir. */
function newest(dir: string): number {
  let max = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) max = Math.max(max, mtime(path.join(e.parentPath, e.name)));
  }
  return max;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-image-'));
const dataDir = path.join(dir, 'data');
let child: ChildProcess | undefined;
let base = '';
let output = '';
const stage = runtimeStage(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));

before(async () => {
  // Build when an output is missing or older than a source (the Dockerfile builds from source).
  const built = ['dist/cli.js', 'dist/ui/index.html', 'packages/reporter/dist/reporter.js'];
  const oldest = Math.min(...built.map((f) => mtime(path.join(ROOT, f))));
  const newestSource = Math.max(
    newest(path.join(ROOT, 'src')),
    newest(path.join(ROOT, 'packages/reporter/src')),
    newest(path.join(ROOT, 'packages/events/dist')),
  );
  if (oldest < newestSource) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.mkdirSync(dataDir);
  assemble(stage, app);
  const [cmd, ...args] = stage.cmd;
  assert.equal(cmd, 'node', 'the image runs node');
  const port = await freePort();
  const proc = spawn(process.execPath, args, {
    cwd: app,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      STORAGE: 'sqlite',
      DATA_DIR: dataDir,
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  proc.stdout?.on('data', (d) => {
    output += d;
  });
  proc.stderr?.on('data', (d) => {
    output += d;
  });
  base = `http://127.0.0.1:${port}`;
  // Ready or exited, whichever comes first; the deadline (scaled by the load) only catches a hang.
  await waitUntil(
    async () =>
      proc.exitCode !== null ||
      (await fetch(`${base}/api/health`).then(
        (r) => r.ok,
        () => false,
      )),
    (done) => done,
    { what: 'the server from the image layout to answer /api/health', timeoutMs: 30_000, show: () => output },
  );
  if (proc.exitCode !== null)
    throw new Error(`the server from the image layout exited (${proc.exitCode}):\n${output}`);
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the runtime stage copies the server, the dashboard and the SDK', () => {
  assert.deepEqual(stage.cmd.slice(0, 2), ['node', 'dist/cli.js']);
  assert.ok(stage.copies.length > 0);
});

test("the image's HEALTHCHECK path answers 200", async () => {
  assert.ok(stage.healthPath, 'the runtime stage has a HEALTHCHECK with a URL');
  assert.equal((await fetch(`${base}${stage.healthPath}`)).status, 200);
});

test('the assembled image serves the API, the dashboard and both SDK bundles', async () => {
  const health = await fetch(`${base}/api/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'healthy');

  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200, 'dashboard');
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /<script[^>]+app\.js/);

  for (const file of ['reporter.js', 'reporter.mjs']) {
    const r = await fetch(`${base}/sdk/${file}`);
    const body = await r.text();
    assert.equal(r.status, 200, `/sdk/${file}: ${body.slice(0, 200)}`);
    assert.match(r.headers.get('content-type') ?? '', /javascript/);
    assert.ok(body.length > 1000, `/sdk/${file} is the bundle`);
  }
});
