// Config parsing (src/config.ts): the Flask server's env vars and defaults, store selection, and
// start-up errors that name the bad variable. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

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
