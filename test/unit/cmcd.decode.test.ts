// CMCD decoding, validation and mapping to events (src/cmcd/decode.ts, map.ts, collect.ts) on the
// examples of CTA-5004-B section 8 and the @svta/cml-cmcd test vectors. Pure functions: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CollectOptions, collectReports } from '../../src/cmcd/collect.ts';
import { checkReport, decodeCmcdHeaders, decodeCmcdLines, decodeCmcdQuery } from '../../src/cmcd/decode.ts';
import { flattenCmcd, SessionMemory, toEvent } from '../../src/cmcd/map.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const opts = (over: Partial<CollectOptions> = {}): CollectOptions => ({
  now: NOW,
  experimentFor: () => 'exp',
  ...over,
});
const collect = (body: string, over: Partial<CollectOptions> = {}) =>
  collectReports({ body, query: undefined, headers: {} }, opts(over));

// CTA-5004-B 8.2.2: time-interval reports over a session (whitespace of the document removed).
const SPEC_8_2_2 = [
  'bl=(0),cid="content-id-123",e=t,h="example.com",pt=0,sid="session-id-123",sn=1,sta=s,su,ts=1764752400000,v=2',
  'bl=(6000),br=(4200;v 256;a),cid="content-id-123",e=t,h="example.com",lb=(523;v 64;a),msd=812,mtp=(87000;v 49000;a),pb=(4200;v 256;a),pt=29188,sf=d,sid="session-id-123",sn=2,st=v,sta=p,tb=(4200;v 256;a),tpb=(4200;v 256;a),ts=1764752430000,v=2',
  'bl=(3200),br=(4200;v 256;a),bs,bsd=(720;v),cid="content-id-123",e=t,ec=("MEDIA_ERR_NETWORK"),h="example.com",lb=(523;v 64;a),mtp=(89000;v 52000;a),pb=(4200;v 256;a),pt=59188,sf=d,sid="session-id-123",sn=3,st=v,sta=p,tb=(4200;v 256;a),tpb=(4200;v 256;a),ts=1764752460000,v=2',
];

describe('CTA-5004-B event-mode examples', () => {
  test('8.2.1, the smallest report: e=t with ts and v only', () => {
    const r = collect('e=t,ts=1764752400000,v=2');
    assert.deepEqual(r.rejected, []);
    const [ev] = r.events;
    assert.deepEqual(ev, {
      experiment_id: 'exp',
      timestamp: 1764752400,
      event_type: 'cmcd_t',
      protocol: 'cmcd',
      video_id: 'unknown',
      payload: { e: 't', ts: 1764752400000, v: 2 },
      event_id: ev?.event_id,
    });
    assert.match(String(ev?.event_id), /^cmcd:h:[A-Za-z0-9_-]{32}$/, 'no sid/sn: a content hash');
  });

  test('8.2.2, a batch of interval reports: every line an event, lists flattened per object type', () => {
    const r = collect(SPEC_8_2_2.join('\n'));
    assert.deepEqual(r.rejected, []);
    assert.equal(r.events.length, 3);
    const [first, second, third] = r.events;
    assert.equal(first?.event_type, 'cmcd_t');
    assert.equal(first?.session_id, 'session-id-123');
    assert.equal(first?.video_id, 'content-id-123');
    assert.equal(first?.event_id, 'cmcd:session-id-123:1:1764752400000');
    assert.equal(first?.payload.sta, 's', 'tokens are strings');
    assert.equal(first?.payload.su, true);
    assert.equal(first?.payload.bl, 0);
    assert.equal(first?.protocol, 'cmcd', 'sf not yet seen in this session');

    assert.equal(second?.timestamp, 1764752430);
    assert.equal(second?.protocol, 'dash', 'sf=d');
    assert.equal(second?.payload.msd, 812, 'startup in ms, CMCD units');
    assert.equal(second?.payload.bl, 6000);
    assert.equal(second?.payload.br, 4200, 'headline bitrate is the video one (kbps)');
    assert.equal(second?.payload.br_v, 4200);
    assert.equal(second?.payload.br_a, 256);
    assert.equal(second?.payload.mtp_a, 49000);

    assert.equal(third?.payload.bs, true);
    assert.equal(third?.payload.bsd, 720, 'stall duration in ms');
    assert.equal(third?.payload.bsd_v, 720);
    assert.deepEqual(third?.payload.ec, ['MEDIA_ERR_NETWORK']);
  });

  test('8.2.3 response received, 8.2.4 error, 8.2.6 seek', () => {
    const rr =
      'cid="bbb",cmsdd="ZXRwPTEyNTAwO3J0dD0zNTttYj02MDAwO3JkPTIwMA==",e=rr,nor=("video/segment-6.m4v"),ot=v,rc=200,sid="session1",ts=1763657019723,ttfb=180,ttlb=200,url="video/segment-5.m4v",v=2';
    const err =
      'cid="content-id-123",e=e,ec=("CODEC_NOT_SUPPORTED"),sid="session-id-123",ts=1764269150213,v=2';
    const seek = 'bl=(0),cid="content-id-123",e=ps,pt=30000,sid="session-id-123",sta=k,ts=1764269150529,v=2';
    const r = collect([rr, err, seek].join('\n'));
    assert.deepEqual(r.rejected, []);
    assert.deepEqual(r.warnings, []);
    const [a, b, c] = r.events;
    assert.equal(a?.event_type, 'cmcd_rr');
    assert.deepEqual(
      [a?.payload.rc, a?.payload.ttfb, a?.payload.ttlb, a?.payload.url, a?.payload.ot],
      [200, 180, 200, 'video/segment-5.m4v', 'v'],
    );
    assert.deepEqual(a?.payload.nor, ['video/segment-6.m4v']);
    assert.equal(b?.event_type, 'cmcd_e');
    assert.deepEqual(b?.payload.ec, ['CODEC_NOT_SUPPORTED']);
    assert.equal(c?.event_type, 'cmcd_ps');
    assert.equal(c?.payload.sta, 'k');
    assert.equal(c?.timestamp, 1764269150.529);
  });

  test('8.2.5, a stall as play-state changes: r (rebuffering) then p with bsd', () => {
    const r = collect(
      [
        'bs,cid="content-id-123",e=ps,sid="session-id-123",sta=r,ts=1764269150889,v=2',
        'bs,bsd=(1500),cid="content-id-123",e=ps,sid="session-id-123",sta=p,ts=1764269152389,v=2',
      ].join('\r\n'),
    );
    assert.deepEqual(
      r.events.map((e) => [e.event_type, e.payload.sta, e.payload.bsd ?? null]),
      [
        ['cmcd_ps', 'r', null],
        ['cmcd_ps', 'p', 1500],
      ],
    );
  });

  test('8.2.8, ad events, and custom events keep their name', () => {
    const r = collect(
      [
        'cid="movie-123",e=abs,nr,sid="s",ts=1764269150186,v=2',
        'cen="my-event",e=ce,sid="s",ts=1764269150187,v=2',
      ].join('\n'),
    );
    assert.deepEqual(
      r.events.map((e) => e.event_type),
      ['cmcd_abs', 'cmcd_ce'],
    );
    assert.equal(r.events[1]?.payload.cen, 'my-event');
  });
});

describe('request-mode data (CMCD v1 and v2)', () => {
  test('a v1 query argument (library vector): scalars stay scalars, custom keys made storable', () => {
    const v1 =
      'bl=5000,br=200,bs,cid="content-id",com.example-exists,com.example-hello="world",com.example-testing=1234,com.example-token=s,d=325,dl=10000,mtp=10000,nor="..%2Ftesting%2F3.m4v",ot=m,rtp=8000,sf=d,sid="session-id",st=v,su,tb=5000';
    const r = collectReports({ body: undefined, query: v1, headers: {} }, opts());
    assert.deepEqual(r.rejected, []);
    const [ev] = r.events;
    assert.equal(ev?.event_type, 'cmcd_request');
    assert.equal(ev?.protocol, 'dash');
    assert.equal(ev?.session_id, 'session-id');
    assert.equal((ev as Record<string, unknown>).timestamp_source, 'server', 'no ts: server time, said so');
    assert.equal(ev?.timestamp, NOW.getTime() / 1000);
    assert.equal(ev?.event_id, undefined, 'v1 has no sequence number: no dedupe');
    assert.deepEqual(
      [ev?.payload.br, ev?.payload.bl, ev?.payload.tb, ev?.payload.d, ev?.payload.ot],
      [200, 5000, 5000, 325, 'm'],
    );
    assert.equal(ev?.payload['com_example-hello'], 'world', '"." in custom keys becomes "_"');
    assert.equal(ev?.payload['com_example-exists'], true);
    assert.ok(!Object.keys(ev?.payload ?? {}).some((k) => k.includes('.')));
  });

  test('v2 headers (library vector) merge into one report', () => {
    const headers = {
      'cmcd-object':
        'ab=(2500),br=(200),com.example-hello="world",d=325,lab=(200),lb=(100),ot=m,tab=(3000),tb=(5000),tpb=(4000)',
      'cmcd-status':
        'bg,bs,bsd=(2000),cdn="cdn-provider",com.example-exists,ec=("ERR001" "ERR002"),pt=45000,rtp=8000',
      'cmcd-request':
        'bl=(5000),cs="123456",dfa=5,dl=10000,ltc=1500,mtp=(10000),nor=("../testing/3.m4v"),pb=(1000),sn=1,sta=p,su,tbl=(8000),ts=1640995200000',
      'cmcd-session': 'cid="content-id",msd=2500,sf=d,sid="session-id",st=v,v=2',
    };
    const report = decodeCmcdHeaders(headers);
    assert.ok(report && !('code' in report));
    assert.deepEqual(checkReport(report).errors, []);
    const r = collectReports({ body: undefined, query: undefined, headers }, opts());
    const [ev] = r.events;
    assert.equal(ev?.timestamp, 1640995200);
    assert.equal(ev?.event_id, 'cmcdq:session-id:1:1640995200000');
    assert.deepEqual(
      [ev?.payload.ltc, ev?.payload.dfa, ev?.payload.msd, ev?.payload.bsd],
      [1500, 5, 2500, 2000],
    );
  });

  test('CTA-5004-B 8.1.8, every v2 key at once, flattens to plain numbers per object type', () => {
    const line =
      'bg,bl=(2100;v 1800;a),br=(3000;v 164;a),bs,bsa=(3;v),bsd=(1200;v 100;a),bsda=(4150;v 300;a),cid="content-id-123",cs="g48djn236sk2",d=4000,dfa=32,dl=1000,ec=("2001"),lb=(500;v 32;a),ltc=13500,msd=1700,mtp=(15000;v 6000;a),nor=("next-seg.mp4"),nr,ot=v,pb=(2000;v 164;a),pr=1.1,pt=632782,rtp=12000,sf=d,sid="session-id-123",sn=0,st=l,sta=p,su,tb=(6000;v 350;a),tbl=(2000;v 2000;a),tpb=(5000;v 164;a),v=2';
    const q = decodeCmcdQuery(line);
    assert.ok(!('code' in q));
    assert.deepEqual(checkReport(q).errors, []);
    const p = flattenCmcd(q.data);
    assert.deepEqual(
      [p.bl, p.bl_v, p.bl_a, p.bsa, p.bsa_v, p.bsd, p.bsd_a, p.pr, p.ltc, p.dfa, p.st],
      [2100, 2100, 1800, 3, 3, 1200, 100, 1.1, 13500, 32, 'l'],
    );
    for (const v of Object.values(p)) {
      assert.ok(v === null || ['string', 'number', 'boolean'].includes(typeof v) || Array.isArray(v), `${v}`);
    }
  });
});

describe('partial garbage and validation', () => {
  test('bad lines are rejected with their line number and reason; good ones kept', () => {
    const body = [
      'e=ps,sid="s",sn=0,sta=s,ts=1700000000000,v=2',
      'this is ((( not cmcd',
      '',
      'e=ps,sid="s",sn=1,sta=p,ts="soon",v=2',
      'sid="s",sn=2,ts=1700000000200,v=2',
      'e=bc,br=("fast"),sid="s",sn=3,ts=1700000000300,v=2',
      'e=ps,sid="s",sn=4,sta=a,ts=1700000000400,v=2',
    ].join('\n');
    const r = collect(body);
    assert.deepEqual(
      r.events.map((e) => e.payload.sn),
      [0, 4],
    );
    assert.deepEqual(
      r.rejected.map((x) => [x.origin, x.code]),
      [
        [{ line: 2 }, 'CMCD_SYNTAX'],
        [{ line: 4 }, 'CMCD_INVALID_REPORT'],
        [{ line: 5 }, 'CMCD_INVALID_REPORT'],
        [{ line: 6 }, 'CMCD_INVALID_REPORT'],
      ],
    );
    assert.match(r.rejected[1]?.message ?? '', /ts/);
    assert.match(r.rejected[2]?.message ?? '', /"e"/);
    assert.match(r.rejected[3]?.message ?? '', /br/);
  });

  test('departures that still carry data are warnings: unknown keys, missing v, v1-style scalars', () => {
    // The library's event vector: v2 but with scalar lists and a numeric custom key.
    const vector =
      'ab=2500,bg,bl=5000,br=200,bs,bsd=2000,cdn="cdn-provider",cid="content-id",com.example-exists,com.example-hello="world",com.example-testing=1234,com.example-token=s,cs="123456",dfa=5,e=t,ec=("ERR001" "ERR002"),lab=200,lb=100,ltc=1500,msd=2500,mtp=10000,pb=1000,pt=45000,sf=d,sid="session-id",sn=1,st=v,sta=p,tab=3000,tb=5000,tbl=8000,tpb=4000,ts=1640995200000,v=2';
    const r = collect([vector, 'e=ps,sta=p,ts=1700000000000,zz=1'].join('\n'));
    assert.deepEqual(r.rejected, []);
    assert.equal(r.events.length, 2);
    assert.equal(r.events[0]?.payload.br, 200);
    assert.equal(r.events[0]?.payload.bsd, 2000);
    const paths = r.warnings.map((w) => w.details.map((d) => d.path).sort());
    assert.ok(
      paths[0]?.includes('br') && paths[0]?.includes('com.example-testing'),
      JSON.stringify(paths[0]),
    );
    assert.ok(paths[1]?.includes('zz') && paths[1]?.includes('v'), JSON.stringify(paths[1]));
  });

  test('the older JSON array form, including CMCD lines as strings', () => {
    const body = JSON.stringify([
      { e: 'ps', sid: 'j', sn: 0, sta: 'p', ts: 1700000000000, br: [2500], bl: 3000, v: 2 },
      'e=bc,br=(800;v),sid="j",sn=1,ts=1700000001000,v=2',
      42,
    ]);
    const r = collect(body);
    assert.deepEqual(
      r.events.map((e) => [e.event_type, e.payload.br, e.event_id]),
      [
        ['cmcd_ps', 2500, 'cmcd:j:0:1700000000000'],
        ['cmcd_bc', 800, 'cmcd:j:1:1700000001000'],
      ],
    );
    assert.equal(r.events[0]?.payload.bl, 3000);
    assert.deepEqual(
      r.rejected.map((x) => [x.origin, x.code]),
      [[{ index: 2 }, 'CMCD_SYNTAX']],
    );
  });

  test('decodeCmcdLines numbers lines as an editor shows them', () => {
    const { reports, problems } = decodeCmcdLines('\n\ne=t,ts=1,v=2\n(\n');
    assert.deepEqual(
      reports.map((r) => r.origin),
      [{ line: 3 }],
    );
    assert.deepEqual(
      problems.map((p) => p.origin),
      [{ line: 4 }],
    );
  });
});

describe('experiments, ids and session memory', () => {
  test('a retried report gets the same event_id; a reused sid after reload does not', () => {
    const line = 'e=ps,sid="fixed",sn=0,sta=s,ts=1700000000000,v=2';
    const again = collect(line).events[0]?.event_id;
    assert.equal(collect(line).events[0]?.event_id, again);
    const reload = collect('e=ps,sid="fixed",sn=0,sta=s,ts=1700000099000,v=2').events[0]?.event_id;
    assert.notEqual(reload, again);
  });

  test('reports without an experiment are rejected; the experiment key can name it', () => {
    const r = collect('e=t,ts=1,v=2,stats-experiment="exp-a"\ne=t,ts=2,v=2', {
      experimentFor: (d) =>
        typeof d['stats-experiment'] === 'string'
          ? d['stats-experiment']
          : { path: 'stats-experiment', message: 'none' },
    });
    assert.deepEqual(
      r.events.map((e) => e.experiment_id),
      ['exp-a'],
    );
    assert.deepEqual(
      r.rejected.map((x) => x.code),
      ['CMCD_MISSING_EXPERIMENT'],
    );
  });

  test('session memory fills cid and sf on reports that leave them out', () => {
    const memory = new SessionMemory(2);
    const a = toEvent(
      { e: 'ps', sid: 'm1', sta: 's', cid: 'movie', sf: 'h', ts: 1 },
      { experimentId: 'x', mode: 'event', now: NOW, memory },
    );
    const b = toEvent({ e: 't', sid: 'm1', ts: 2 }, { experimentId: 'x', mode: 'event', now: NOW, memory });
    assert.deepEqual([a.video_id, a.protocol, b.video_id, b.protocol], ['movie', 'hls', 'movie', 'hls']);
    assert.equal(b.payload.cid, undefined, 'the payload stays what the player sent');
    toEvent({ e: 't', sid: 'm2', ts: 3 }, { experimentId: 'x', mode: 'event', now: NOW, memory });
    toEvent({ e: 't', sid: 'm3', ts: 4 }, { experimentId: 'x', mode: 'event', now: NOW, memory });
    const c = toEvent({ e: 't', sid: 'm1', ts: 5 }, { experimentId: 'x', mode: 'event', now: NOW, memory });
    assert.equal(c.video_id, 'unknown', 'bounded: the oldest session was forgotten');
  });
});
