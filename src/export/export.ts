/**
 * Exports one experiment to a file: NDJSON, CSV (columns in ./columns.ts) or Parquet. Reads
 * stream from the store in (timestamp, _id) order over the snapshot pinned at the start, so
 * memory is bounded (Parquet: by one row group) however large the experiment.
 */

import { once } from 'node:events';
import fs from 'node:fs';
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';
import type { StoredEvent } from '../events/schema.ts';
import type { EventStore, ReadQuery } from '../store/types.ts';
import { CSV_HEADER, csvLines, flatten } from './columns.ts';

export type ExportFormat = 'ndjson' | 'csv' | 'parquet';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv', 'parquet'];

/** Rows per Parquet row group: what the exporter holds in memory at once. */
export const PARQUET_ROW_GROUP = 10_000;

export interface ExportOptions {
  experimentId: string;
  format: ExportFormat;
  /** File to write, or '-' for stdout (NDJSON and CSV only). */
  out: string;
  rowGroupSize?: number;
}

/** The experiment's events as of now (a snapshot: events stored during the export are not in it). */
async function* snapshot<T>(
  store: EventStore,
  experimentId: string,
  read: (q: ReadQuery) => AsyncIterable<T[]>,
): AsyncGenerator<T[]> {
  const mark = await store.readMark(experimentId);
  if (mark === null) return;
  yield* read({ experimentId, mark });
}

/** Writes text chunks to a stream, waiting for it to drain (backpressure). */
async function writeText(stream: NodeJS.WritableStream, chunks: AsyncIterable<string>): Promise<void> {
  for await (const s of chunks) {
    if (!stream.write(s)) await once(stream, 'drain');
  }
}

/** The text chunks of an NDJSON or CSV export; counts events into counter.n. */
async function* textChunks(
  store: EventStore,
  experimentId: string,
  format: 'ndjson' | 'csv',
  counter: { n: number },
): AsyncGenerator<string> {
  if (format === 'csv') {
    yield CSV_HEADER;
    for await (const batch of snapshot(store, experimentId, (q) => store.readEvents(q))) {
      counter.n += batch.length;
      yield csvLines(batch);
    }
    return;
  }
  for await (const batch of snapshot(store, experimentId, (q) => store.readEventsJson(q))) {
    counter.n += batch.length;
    let s = '';
    for (const e of batch) s += `${e.json}\n`;
    yield s;
  }
}

const PARQUET_COLUMNS = [
  { name: '_id', type: 'STRING', nullable: false },
  { name: 'experiment_id', type: 'STRING', nullable: false },
  { name: 'timestamp', type: 'DOUBLE', nullable: false },
  { name: 'event_type', type: 'STRING', nullable: false },
  { name: 'protocol', type: 'STRING', nullable: false },
  { name: 'video_id', type: 'STRING', nullable: false },
  { name: 'session_id', type: 'STRING', nullable: true },
  { name: 'session_key', type: 'STRING', nullable: true },
  { name: 'event_id', type: 'STRING', nullable: true },
  { name: 'stored_at', type: 'TIMESTAMP', nullable: false },
  { name: 'payload', type: 'STRING', nullable: false },
  { name: 'extra', type: 'STRING', nullable: true },
] as const;

async function* parquetRows(batches: AsyncIterable<StoredEvent[]>, counter: { n: number }) {
  for await (const batch of batches) {
    for (const e of batch) {
      counter.n++;
      const r = flatten(e);
      yield { ...r, timestamp: Number(r.timestamp), stored_at: new Date(r.stored_at) };
    }
  }
}

/** Writes the export; resolves with the number of events written. A failed export leaves no file. */
export async function exportExperiment(store: EventStore, opts: ExportOptions): Promise<number> {
  const counter = { n: 0 };
  if (opts.out === '-') {
    if (opts.format === 'parquet') throw new Error('Parquet cannot be written to stdout; pass --out FILE');
    await writeText(process.stdout, textChunks(store, opts.experimentId, opts.format, counter));
    return counter.n;
  }
  // Write beside the target and rename at the end: a reader never sees half a file.
  const tmp = `${opts.out}.partial-${process.pid}`;
  try {
    if (opts.format === 'parquet') {
      const batches = snapshot(store, opts.experimentId, (q) => store.readEvents(q));
      await parquetWriteRows({
        writer: fileWriter(tmp),
        rows: parquetRows(batches, counter),
        columns: PARQUET_COLUMNS.map((c) => ({ ...c })),
        rowGroupSize: opts.rowGroupSize ?? PARQUET_ROW_GROUP,
        kvMetadata: [{ key: 'stats-server.experiment_id', value: opts.experimentId }],
        createdBy: 'stats-server',
      });
    } else {
      const stream = fs.createWriteStream(tmp);
      const failed = new Promise<never>((_, reject) => stream.once('error', reject));
      failed.catch(() => {});
      await Promise.race([
        writeText(stream, textChunks(store, opts.experimentId, opts.format, counter)),
        failed,
      ]);
      stream.end();
      await Promise.race([once(stream, 'finish'), failed]);
    }
    fs.renameSync(tmp, opts.out);
    return counter.n;
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
