// dash.js end to end: real dash.js in Debian Chromium playing ffmpeg-made media, reporting through the
// reporter bundle to the real stats-server (SQLite). Starts ffmpeg (once), a static server,
// the app and Chromium. Scenarios are in scenarios.ts; below, the false stall right after the
// first frame (a waiting/playing pair a few ms apart with seconds buffered) is not reported.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type E2E, e2eSkip, startE2E } from './harness/index.ts';
import { playerScenarios } from './scenarios.ts';

playerScenarios('dashjs', 'dash.js');

describe('dash.js: no stall with a full buffer', { skip: e2eSkip }, () => {
  let e2e: E2E;
  before(
    async () => {
      e2e = await startE2E();
    },
    { timeout: 300_000 },
  );
  after(async () => {
    await e2e?.close();
  });

  test('a waiting/playing pair right after the first frame, with media buffered, is no stall', {
    timeout: 90_000,
  }, async () => {
    const p = await e2e.openPlayer({ player: 'dashjs', experimentId: `e2e_dashjs_full_${process.pid}` });
    try {
      // What Chromium and dash.js delivered in the field: the element waits (dash.js fires
      // PLAYBACK_WAITING) and plays again ~5 ms later, just after the first frame, with
      // seconds of media at the playhead. Replayed as the element's own events.
      await p.waitFor(
        "e2e.events.some((e) => e.type === 'playback_started') && e2e.video.buffered.length > 0 && " +
          'e2e.video.buffered.end(0) - e2e.video.currentTime > 1',
        30_000,
      );
      await p.eval(`(async () => {
        e2e.video.dispatchEvent(new Event('waiting'));
        await new Promise((r) => setTimeout(r, 5));
        e2e.video.dispatchEvent(new Event('playing'));
      })()`);
      await p.waitFor('e2e.video.currentTime > 3', 30_000);
      const reported = await p.reported();
      assert.ok(!reported.includes('rebuffer_event'), `reported: ${reported.join(' ')}`);
      // A real starvation still counts: covered by the throttled scenario above.
    } finally {
      await p.page.close();
    }
  });
});
