// Config parsing (src/config/index.ts, src/config/spec.ts): the Flask server's env vars and defaults,
// store selection, aliases, folded (deprecated) names, and start-up errors that name the bad
// variable. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

test('defaults match the Flask server and pick the embedded store', () => {
  const c = loadConfig({});
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 8000);
  assert.equal(c.storage, 'sqlite');
  assert.equal(c.mongo.database, 'testbed');
  assert.equal(c.mongo.url, 'mongodb://starlink:starlink@mongo:27017/?authSource=admin');
  assert.equal(c.bodyLimit, 1024 * 1024);
  assert.equal(c.corsOrigins, '*');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.mongo));
});

test("the testbed's compose env selects MongoDB with authSource=admin", () => {
  const c = loadConfig({
    MONGO_HOST: 'mongo',
    MONGO_PORT: '27018',
    MONGO_USERNAME: 'u@x',
    MONGO_PASSWORD: 'p:w/d',
    MONGO_DATABASE: 'testbed',
  });
  assert.equal(c.storage, 'mongodb');
  assert.equal(c.mongo.url, 'mongodb://u%40x:p%3Aw%2Fd@mongo:27018/?authSource=admin');
});

test('MONGO_URL overrides the parts; its path names the database unless MONGO_DATABASE does', () => {
  const c = loadConfig({ MONGO_URL: 'mongodb://db.local:27017/lab?replicaSet=rs0', MONGO_HOST: 'ignored' });
  assert.equal(c.storage, 'mongodb');
  assert.equal(c.mongo.url, 'mongodb://db.local:27017/lab?replicaSet=rs0');
  assert.equal(c.mongo.database, 'lab');
  assert.equal(loadConfig({ MONGO_URL: 'mongodb://h/lab', MONGO_DATABASE: 'x' }).mongo.database, 'x');
});

test('STORAGE wins over the MongoDB variables', () => {
  assert.equal(loadConfig({ STORAGE: 'sqlite', MONGO_HOST: 'mongo' }).storage, 'sqlite');
  assert.equal(loadConfig({ STORAGE: 'mongodb' }).storage, 'mongodb');
});

test('bad values stop start-up with the variable named', () => {
  const bad: Array<[Record<string, string>, string]> = [
    [{ SERVER_PORT: 'eighty' }, 'SERVER_PORT'],
    [{ SERVER_PORT: '70000' }, 'SERVER_PORT'],
    [{ STORAGE: 'postgres' }, 'STORAGE'],
    [{ MONGO_URL: 'http://x' }, 'MONGO_URL'],
    [{ BODY_LIMIT: '-1' }, 'BODY_LIMIT'],
    [{ CORS_ORIGINS: 'not an origin' }, 'CORS_ORIGINS'],
    [{ GROUP_COMMIT: 'maybe' }, 'GROUP_COMMIT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ];
  for (const [env, variable] of bad) {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable),
      variable,
    );
  }
});

test('CORS_ORIGINS takes a comma-separated list', () => {
  assert.deepEqual(loadConfig({ CORS_ORIGINS: 'http://a.test:8080, https://b.test' }).corsOrigins, [
    'http://a.test:8080',
    'https://b.test',
  ]);
});

test('LOG_LEVEL and SQLITE_SYNCHRONOUS accept any case; PORT stands in for SERVER_PORT', () => {
  const c = loadConfig({ LOG_LEVEL: 'INFO', SQLITE_SYNCHRONOUS: 'normal', PORT: '9000' });
  assert.equal(c.logLevel, 'info');
  assert.equal(c.sqliteSynchronous, 'NORMAL');
  assert.equal(c.port, 9000);
  assert.equal(loadConfig({ PORT: '9000', SERVER_PORT: '8100' }).port, 8100, 'SERVER_PORT wins');
  assert.throws(
    () => loadConfig({ PORT: 'http' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'PORT',
  );
  assert.equal(loadConfig({ SERVER_PORT: '  ' }).port, 8000, 'a blank value counts as unset');
});

test('the folded knobs have fixed values per store and nothing to warn about by default', () => {
  const sqlite = loadConfig({});
  assert.deepEqual(sqlite.deprecations, []);
  assert.equal(sqlite.sqliteBusyTimeoutMs, 5000);
  assert.equal(sqlite.ingest.maxBatchEvents, 1000);
  assert.equal(sqlite.ingest.maxInflight, 1);
  assert.equal(sqlite.ingest.maxDelayMs, 0);
  const mongo = loadConfig({ STORAGE: 'mongodb' });
  assert.equal(mongo.ingest.maxDelayMs, 2);
  assert.equal(mongo.mongo.serverSelectionTimeoutMs, 3000);
  assert.equal(mongo.mongo.socketTimeoutMs, 30_000);
});

test("MONGO_URL's own timeout options are honoured (any case); a bad one names MONGO_URL", () => {
  const c = loadConfig({
    MONGO_URL: 'mongodb://h:1/db?replicaSet=rs0&serverSelectionTimeoutMS=800&sockettimeoutms=20000',
  });
  assert.equal(c.mongo.serverSelectionTimeoutMs, 800);
  assert.equal(c.mongo.socketTimeoutMs, 20_000);
  assert.deepEqual(c.deprecations, []);
  assert.throws(
    () => loadConfig({ MONGO_URL: 'mongodb://h/db?socketTimeoutMS=soon' }),
    (e: unknown) =>
      e instanceof ConfigError && e.variable === 'MONGO_URL' && /socketTimeoutMS/.test(e.message),
  );
});

test('folded names still apply when set, each with a deprecation warning naming it', () => {
  const c = loadConfig({
    STORAGE: 'mongodb',
    MONGO_URL: 'mongodb://h/db?serverSelectionTimeoutMS=800',
    MONGO_TIMEOUT_MS: '500',
    MONGO_SOCKET_TIMEOUT_MS: '1000',
    SQLITE_BUSY_TIMEOUT_MS: '1500',
    GROUP_COMMIT_MAX_EVENTS: '50',
    GROUP_COMMIT_MAX_DELAY_MS: '7',
    GROUP_COMMIT_MAX_INFLIGHT: '3',
    SQLITE_WRITE_THREAD: 'whatever',
  });
  assert.equal(c.mongo.serverSelectionTimeoutMs, 500, 'an explicit old name wins over the URL');
  assert.equal(c.mongo.socketTimeoutMs, 1000);
  assert.equal(c.sqliteBusyTimeoutMs, 1500);
  assert.deepEqual([c.ingest.maxBatchEvents, c.ingest.maxDelayMs, c.ingest.maxInflight], [50, 7, 3]);
  const named = c.deprecations.map((d) => d.split(' ')[0]).sort();
  assert.deepEqual(named, [
    'GROUP_COMMIT_MAX_DELAY_MS',
    'GROUP_COMMIT_MAX_EVENTS',
    'GROUP_COMMIT_MAX_INFLIGHT',
    'MONGO_SOCKET_TIMEOUT_MS',
    'MONGO_TIMEOUT_MS',
    'SQLITE_BUSY_TIMEOUT_MS',
    'SQLITE_WRITE_THREAD',
  ]);
  assert.match(c.deprecations.find((d) => d.startsWith('SQLITE_WRITE_THREAD')) ?? '', /no effect/);
  assert.match(c.deprecations.find((d) => d.startsWith('MONGO_TIMEOUT_MS')) ?? '', /MONGO_URL/);
  assert.throws(
    () => loadConfig({ GROUP_COMMIT_MAX_EVENTS: '0' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'GROUP_COMMIT_MAX_EVENTS',
    'a folded name is still validated',
  );
});

test('PORT is read when SERVER_PORT is unset; SERVER_PORT wins', () => {
  assert.equal(loadConfig({ PORT: '9000' }).port, 9000);
  assert.equal(loadConfig({ PORT: '9000', SERVER_PORT: '9100' }).port, 9100);
  assert.equal(loadConfig({}).port, 8000);
  assert.throws(
    () => loadConfig({ PORT: 'abc' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'PORT',
  );
});

test('enumerated values ignore case; LOG_FORMAT is auto, json or pretty', () => {
  assert.equal(loadConfig({ LOG_LEVEL: 'INFO' }).logLevel, 'info');
  assert.equal(loadConfig({ LOG_LEVEL: 'Warn' }).logLevel, 'warn');
  assert.equal(loadConfig({ SQLITE_SYNCHRONOUS: 'normal' }).sqliteSynchronous, 'NORMAL');
  assert.equal(loadConfig({}).logFormat, 'auto');
  assert.equal(loadConfig({ LOG_FORMAT: 'JSON' }).logFormat, 'json');
  assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
  assert.throws(
    () => loadConfig({ LOG_FORMAT: 'xml' }),
    (e: unknown) =>
      e instanceof ConfigError && e.variable === 'LOG_FORMAT' && /auto, json, pretty/.test(e.message),
  );
});
