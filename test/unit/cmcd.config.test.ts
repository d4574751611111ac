// The CMCD collector's configuration (CMCD_* variables in src/config/index.ts): defaults, parsing and
// start-up errors naming the variable. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

test('defaults: the custom key stats-experiment, no default experiment, nothing closed', () => {
  const { cmcd } = loadConfig({});
  assert.deepEqual(cmcd, {
    experimentKey: 'stats-experiment',
    defaultExperiment: undefined,
    closedExperiments: [],
    reportsPerSPerClient: 1000,
    reportsPerSPerSession: 20,
  });
  assert.ok(Object.isFrozen(cmcd) && Object.isFrozen(cmcd.closedExperiments));
});

test('CMCD_* variables are parsed', () => {
  const { cmcd } = loadConfig({
    CMCD_EXPERIMENT_KEY: 'com.example-experiment',
    CMCD_DEFAULT_EXPERIMENT: 'exp_001',
    CMCD_CLOSED_EXPERIMENTS: ' old-1, old.2 ,',
  });
  assert.equal(cmcd.experimentKey, 'com.example-experiment');
  assert.equal(cmcd.defaultExperiment, 'exp_001');
  assert.deepEqual(cmcd.closedExperiments, ['old-1', 'old.2']);
});

test('bad CMCD_* values stop start-up naming the variable', () => {
  for (const [name, value] of [
    ['CMCD_EXPERIMENT_KEY', 'Experiment'],
    ['CMCD_EXPERIMENT_KEY', 'has space'],
    ['CMCD_DEFAULT_EXPERIMENT', 'no/slash'],
    ['CMCD_CLOSED_EXPERIMENTS', 'ok,bad$id'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (err: unknown) => err instanceof ConfigError && err.variable === name,
      `${name}=${value}`,
    );
  }
});
