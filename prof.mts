import fs from 'node:fs';
import { configFrom } from './src/config.ts';
import { createStore } from './src/store/index.ts';
import { ndjsonLines } from './src/export/columns.ts';
const dir = '/tmp/read-bench-db';
const store = createStore(configFrom({ STORAGE: 'sqlite', DATA_DIR: dir, SQLITE_SYNCHRONOUS: 'NORMAL' }));
await store.open();
const exp = 'bench_read';
if (!fs.existsSync(dir + '/loaded')) {
  for (let i = 0; i < 1_000_000; i += 10000) {
    const b = [];
    for (let j = i; j < i + 10000; j++) b.push({ experiment_id: exp, timestamp: 1.7e9 + j / 100, event_type: 'buffer_level_updated', protocol: 'dash', video_id: 'http://media.local/live/manifest.mpd', payload: { buffer_level: (j % 300) / 10, media_type: 'video', url: 'http://media.local/live/video_' + j + '.m4s' }, session_id: 's' + (j % 200), event_id: 'ev-' + j, stored_at: new Date() });
    await store.insertMany(b as never);
  }
  fs.writeFileSync(dir + '/loaded', '');
}
const mode = process.argv[2];
const mark = await store.readMark(exp);
let t = Date.now(); let n = 0; let bytes = 0;
for await (const batch of store.readEvents({ experimentId: exp, mark: mode === 'nomark' ? undefined : mark! })) {
  n += batch.length;
  if (mode === 'ser') bytes += ndjsonLines(batch).length;
}
console.log(mode, n, Date.now() - t, 'ms', bytes);
await store.close();
