// Operator messages: a MongoDB login the server refuses is reported as an authentication
// failure with host, user, mechanism and auth database (never the password, never "cannot
// reach"), by the store and in the server's start-up log, against the test FerretDB (which has
// no users, so any credentials are refused); background store errors of the session summariser
// log one line each, without a stack. Starts a MongoStore, a server process, a Summarizer.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { StoreUnavailableError } from '../../src/errors.ts';
import type { SessionQoeService } from '../../src/session-qoe/service.ts';
import { Summarizer } from '../../src/session-qoe/summarizer.ts';
import { MongoStore } from '../../src/store/mongo/index.ts';
import type { EventStore } from '../../src/store/types.ts';
import { MONGO_URL, mongoSkip } from '../helpers/env.ts';
import { startServerProcess } from '../helpers/server-process.ts';

/** MONGO_URL with a user and password FerretDB cannot use. */
const withLogin = (url: string, query = '') =>
  `${url.replace('mongodb://', 'mongodb://alice:s3cret-pass@').replace(/\/?$/, '/')}${query}`;
const hostPort = (url: string) => /^mongodb:\/\/([^/]+)/.exec(url)?.[1] ?? '';

describe('a refused MongoDB login says so', { skip: mongoSkip }, () => {
  const url = MONGO_URL as string;
  const where = hostPort(url).replace(/\./g, '\\.');

  test('the store names host, user, mechanism and authSource, not "cannot reach"', async () => {
    for (const [query, mechanism] of [
      ['?serverSelectionTimeoutMS=1500', 'SCRAM-SHA-\\d+'],
      ['?authMechanism=SCRAM-SHA-256&authSource=testbed&serverSelectionTimeoutMS=1500', 'SCRAM-SHA-256'],
    ] as const) {
      const store = new MongoStore({
        url: withLogin(url, query),
        database: 'authtest',
        serverSelectionTimeoutMs: 1500,
      });
      await store.open();
      try {
        const auth = new RegExp(
          `^authentication to MongoDB at ${where} failed \\(user "alice", mechanism ${mechanism}, authSource (admin|testbed)\\): \\S`,
        );
        const health = await store.health();
        assert.equal(health.ok, false);
        assert.match(health.detail ?? '', auth);
        const messages = [health.detail ?? ''];
        await assert.rejects(store.listSessions('e'), (err: Error) => {
          messages.push(err.message);
          return err instanceof StoreUnavailableError && auth.test(err.message);
        });
        for (const m of messages) {
          assert.doesNotMatch(m, /s3cret-pass|cannot reach/, m);
          assert.ok(!m.includes('\n'), `one line: ${m}`);
        }
      } finally {
        await store.close();
      }
    }
  });

  test('the server log says the login was refused, without the password', async () => {
    // Health answers 503 while the login is refused: the helper waits for that.
    const server = await startServerProcess({
      STORAGE: 'mongodb',
      MONGO_URL: withLogin(url, '?serverSelectionTimeoutMS=1000'),
      MONGO_DATABASE: 'authtest',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    try {
      const until = Date.now() + 20_000;
      while (Date.now() < until && !/authentication to MongoDB/.test(server.output()))
        await new Promise((r) => setTimeout(r, 100));
      const out = server.output();
      assert.match(out, new RegExp(`authentication to MongoDB at ${where} failed \\(user \\\\"alice\\\\"`));
      assert.match(out, /until MongoDB accepts the login/);
      assert.doesNotMatch(out, /cannot reach MongoDB/);
      assert.doesNotMatch(out, /s3cret-pass/);
    } finally {
      await server.stop();
    }
  });
});

describe('background store errors', () => {
  /** A logger writing JSON lines into an array. */
  function capture() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    // Fastify's own logger (pino), as the server's background tasks get it.
    return { lines, log: Fastify({ logger: { level: 'warn', stream } }).log };
  }

  async function runFailing(err: Error, ms = 200) {
    const { lines, log } = capture();
    const store = {
      staleSessions: async () => {
        throw err;
      },
    } as unknown as EventStore;
    const s = new Summarizer(store, {} as SessionQoeService, { quietMs: 0, log, errorBackoffMs: 20 });
    s.start();
    await new Promise((r) => setTimeout(r, ms));
    await s.stop();
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  test('an unavailable store: one line per failed pass, its reason, no stack', async () => {
    const lines = await runFailing(
      new StoreUnavailableError('cannot reach MongoDB at 127.0.0.1:27999: connect ECONNREFUSED'),
    );
    assert.ok(lines.length >= 2, `repeated passes: ${lines.length}`);
    for (const l of lines) {
      assert.equal(
        l.msg,
        'session summaries: background pass failed: cannot reach MongoDB at 127.0.0.1:27999: connect ECONNREFUSED',
      );
      assert.equal(l.err, undefined);
      assert.doesNotMatch(JSON.stringify(l), /"stack"|at .*\.ts:\d+/);
    }
  });

  test('any other error is a bug: logged with its stack', async () => {
    const lines = await runFailing(new TypeError('boom'), 60);
    assert.ok(lines.length >= 1);
    assert.match(JSON.stringify(lines[0]?.err), /"stack":"TypeError: boom/);
  });
});
