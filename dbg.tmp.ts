import { MongoStore } from './src/store/mongo/index.ts';
import { dashEvent } from './test/helpers/events.ts';
const s = new MongoStore({ url: process.argv[2]!, database: 'dbg' + Date.now(), serverSelectionTimeoutMs: 2000, sessionGapS: 600 });
await s.open();
const big = 'x'.repeat(300);
for (let b = 0; b < 5; b++) {
  const batch = [];
  for (let i = 0; i < 10_000; i++) batch.push({ ...dashEvent('midstream', b * 10_000 + i, { payload: { pad: big } }), stored_at: new Date() } as never);
  const t0 = Date.now();
  await s.insertMany(batch);
  console.log('insert', Date.now() - t0);
}
const t0 = Date.now();
try {
  for await (const b of s.readEvents({ experimentId: 'midstream' })) { console.log('batch', b.length, Date.now() - t0); break; }
} catch (e) { console.log('ERR', Date.now() - t0, e); }
console.log(await s.listSessions('midstream'));
await s.db.dropDatabase();
await s.close();
