/**
 * Exports one experiment to a file: NDJSON, JSON (an array, as the testbed runner's
 * stats/metrics.json), CSV (columns in ./columns.ts) or Parquet. Reads stream from the store in
 * (timestamp, _id) order over the snapshot pinned at the start, so memory is bounded (Parquet:
 * by one row group) however large the experiment; text is written in bounded chunks, so a few
 * events of several MB each export as well as many small ones.
 */

import { once } from 'node:events';
import fs from 'node:fs';
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';
import type { StoredEvent } from '../events/schema.ts';
import type { EventStore, JsonEvent, ReadQuery } from '../store/types.ts';
import {
  COLUMN_TYPES,
  COLUMNS,
  CSV_HEADER,
  type CsvOptions,
  chunked,
  csvLine,
  flatten,
  ndjsonLine,
  PAYLOAD_COLUMNS,
  payloadColumns,
} from './columns.ts';

export type ExportFormat = 'ndjson' | 'json' | 'csv' | 'parquet';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'json', 'csv', 'parquet'];

/** Rows per Parquet row group: what the exporter holds in memory at once. */
export const PARQUET_ROW_GROUP = 10_000;

export interface ExportOptions extends CsvOptions {
  experimentId: string;
  format: ExportFormat;
  /** File to write, or '-' for stdout (not Parquet). */
  out: string;
  rowGroupSize?: number;
  /** Called after each batch with the number of events written so far. */
  onProgress?: (events: number) => void;
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

/** The text chunks of an NDJSON, JSON or CSV export; counts events into counter.n. */
async function* textChunks(
  store: EventStore,
  opts: ExportOptions,
  counter: { n: number },
): AsyncGenerator<string> {
  const { experimentId, format } = opts;
  const counted = <T>(batch: T[]) => {
    counter.n += batch.length;
    opts.onProgress?.(counter.n);
    return batch;
  };
  if (format === 'csv') {
    yield CSV_HEADER;
    for await (const batch of snapshot(store, experimentId, (q) => store.readEvents(q))) {
      yield* chunked(counted(batch), (e: StoredEvent) => csvLine(e, opts));
    }
    return;
  }
  const rows = snapshot(store, experimentId, (q) => store.readEventsJson(q));
  if (format === 'ndjson') {
    for await (const batch of rows) yield* chunked(counted(batch), (e: JsonEvent) => ndjsonLine(e.json));
    return;
  }
  // JSON: one array of the documents GET /api/metrics returns (`_id` as a string).
  let first = true;
  yield '[';
  for await (const batch of rows) {
    yield* chunked(counted(batch), (e: JsonEvent) => {
      const s = first ? `\n${e.json}` : `,\n${e.json}`;
      first = false;
      return s;
    });
  }
  yield ']\n';
}

/** Parquet columns: the export columns, then typed copies of common payload fields. */
export const PARQUET_COLUMNS = [
  ...COLUMNS.map((name) => ({ name, ...COLUMN_TYPES[name] })),
  ...PAYLOAD_COLUMNS.map(({ key, type }) => ({ name: `payload.${key}`, type, nullable: true })),
];

async function* parquetRows(
  batches: AsyncIterable<StoredEvent[]>,
  opts: ExportOptions,
  counter: { n: number },
) {
  for await (const batch of batches) {
    for (const e of batch) {
      const r = flatten(e);
      yield {
        ...r,
        timestamp: Number(r.timestamp),
        stored_at: new Date(r.stored_at),
        ...payloadColumns(e.payload),
      };
    }
    counter.n += batch.length;
    opts.onProgress?.(counter.n);
  }
}

/**
 * Writes the export; resolves with the number of events written. A failed export leaves no
 * file: it is written beside the target and renamed at the end (the temporary file is created
 * before anything is read, so it exists to be removed whatever fails).
 */
export async function exportExperiment(store: EventStore, opts: ExportOptions): Promise<number> {
  const counter = { n: 0 };
  if (opts.out === '-') {
    if (opts.format === 'parquet') throw new Error('Parquet cannot be written to stdout; pass --out FILE');
    await writeText(process.stdout, textChunks(store, opts, counter));
    return counter.n;
  }
  const tmp = partialPath(opts.out);
  fs.closeSync(fs.openSync(tmp, 'w'));
  const removeTmp = () => fs.rmSync(tmp, { force: true });
  // An interrupted export (Ctrl-C, kill) also leaves nothing behind.
  process.once('exit', removeTmp);
  try {
    if (opts.format === 'parquet') {
      const batches = snapshot(store, opts.experimentId, (q) => store.readEvents(q));
      await parquetWriteRows({
        writer: fileWriter(tmp),
        rows: parquetRows(batches, opts, counter),
        columns: PARQUET_COLUMNS.map((c) => ({ ...c })),
        rowGroupSize: opts.rowGroupSize ?? PARQUET_ROW_GROUP,
        kvMetadata: [{ key: 'stats-server.experiment_id', value: opts.experimentId }],
        createdBy: 'stats-server',
      });
    } else {
      const stream = fs.createWriteStream(tmp);
      const failed = new Promise<never>((_, reject) => stream.once('error', reject));
      failed.catch(() => {});
      await Promise.race([writeText(stream, textChunks(store, opts, counter)), failed]);
      stream.end();
      await Promise.race([once(stream, 'finish'), failed]);
    }
    fs.renameSync(tmp, opts.out);
    return counter.n;
  } catch (err) {
    removeTmp();
    throw err;
  } finally {
    process.removeListener('exit', removeTmp);
  }
}

/** The temporary file an export is written to before it is renamed to `out`. */
export const partialPath = (out: string): string => `${out}.partial-${process.pid}`;
