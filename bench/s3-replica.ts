/**
 * Replicas in the bench's s3rver, written straight to s3rver (no latency, not counted) in
 * the layout both readers use: `<path>/0000/<min>-<max>.ltx` (docs/s3.md, Keys).
 *
 * - The items replica of the S3 section: `importDatabase` of the dataset into an
 *   S3ReplicaClient (one snapshot, TXID 1, in level 0, as Litestream's first sync writes
 *   it), then L0 files TXID 2…N written with `client.write`, so the replica has N level-0
 *   files. Each L0 file holds what a transaction appending one row touches: page 1 (the
 *   change counter), the `items` table's right-most path (root, interior pages, last
 *   leaf) and one leaf of the `items_k` index (a pseudo-random descent), with their bytes
 *   unchanged, so every state is the same valid database while a reader still has to
 *   index every file, and scans and lookups meet at most a handful of pages that live
 *   outside the snapshot.
 * - The L0 replicas of the open-cost table (bench/l0.ts, 1 MiB database, a snapshot plus
 *   N − 1 L0 files of three pages each), copied file by file from their cached file://
 *   directories.
 */
import { open } from 'node:fs/promises';
import { encodeLtxFile } from '../ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../ltx/header.js';
import { lockPgno } from '../ltx/checksum.js';
import { importDatabase } from '../lib/tools/import.js';
import { listReplica } from '../lib/replica/plan.js';
import { openFileReplica } from '../lib/storage/file/client.js';
import { openReplicaClient } from '../lib/storage/url.js';
import type { ReplicaClient } from '../lib/storage/types.js';
import { interiorChildren } from '../lib/read/warmup.js';
import { sqliteQuery } from '../test/helpers/sqlite-cli.js';
import type { Dataset } from './dataset.js';
import { l0Replica } from './l0.js';
import { S3_ENV, type S3Stack } from './s3-stack.js';

const BASE_TIMESTAMP = 1_795_254_709_256;

/** What an upload wrote. */
export interface S3Upload {
  /** Replica URL through the request log and the proxy. */
  url: string;
  /** LTX files written. */
  files: number;
  /** Bytes written. */
  bytes: number;
  /** Bytes of the snapshot. */
  snapshotBytes: number;
  /** Time of the upload, ms. */
  ms: number;
  /** Pages each L0 file holds. */
  pagesPerL0File: number;
}

/** Run `tasks` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Page numbers an appending transaction touches (see the module comment). */
async function appendPages(dataset: Dataset): Promise<{ fixed: number[]; indexLeafOf: (k: number) => number }> {
  const roots = await sqliteQuery(dataset.dbPath, "SELECT name, rootpage FROM sqlite_schema WHERE name IN ('items', 'items_k')", { readonly: true });
  const rootOf = (name: string): number => Number(roots.find((r) => r.name === name)?.rootpage);
  const fh = await open(dataset.dbPath, 'r');
  try {
    const page = async (pgno: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(dataset.pageSize);
      await fh.read(buf, 0, dataset.pageSize, (pgno - 1) * dataset.pageSize);
      return buf;
    };
    const fixed = [1];
    for (let pgno = rootOf('items'); ;) {
      fixed.push(pgno);
      const kids = interiorChildren(await page(pgno), pgno === 1 ? 100 : 0);
      if (kids === undefined) break;
      pgno = kids[kids.length - 1];
    }
    // A few index leaves, found by pseudo-random descents; the L0 files take them in turn.
    const leaves: number[] = [];
    for (let k = 0; k < 16; k++) {
      let pgno = rootOf('items_k');
      for (let depth = 0; ; depth++) {
        const kids = interiorChildren(await page(pgno), 0);
        if (kids === undefined) break;
        pgno = kids[(k * 7919 + depth * 104729) % kids.length];
      }
      if (!fixed.includes(pgno) && !leaves.includes(pgno)) leaves.push(pgno);
    }
    return { fixed, indexLeafOf: (k) => leaves[k % leaves.length] };
  } finally {
    await fh.close();
  }
}

/**
 * Upload the dataset as `path`: the snapshot by `importDatabase`, then L0 files up to
 * `l0Files` level-0 files in all (the snapshot counts as the first).
 */
export async function uploadItemsReplica(stack: S3Stack, dataset: Dataset, path: string, l0Files: number): Promise<S3Upload> {
  const started = performance.now();
  const client = await openReplicaClient(stack.directUrl(path), { env: S3_ENV });
  try {
    const { bytesWritten } = await importDatabase(dataset.dbPath, client, { timestamp: BASE_TIMESTAMP });
    let bytes = bytesWritten;
    const { fixed, indexLeafOf } = await appendPages(dataset);
    const db = await open(dataset.dbPath, 'r');
    const lock = lockPgno(dataset.pageSize);
    const commit = dataset.pageCount;
    const pageBytes = new Map<number, Uint8Array>();
    try {
      for (const pgno of [...fixed, ...Array.from({ length: 16 }, (_, k) => indexLeafOf(k))]) {
        const buf = new Uint8Array(dataset.pageSize);
        await db.read(buf, 0, dataset.pageSize, (pgno - 1) * dataset.pageSize);
        pageBytes.set(pgno, buf);
      }
    } finally {
      await db.close();
    }
    const txids = Array.from({ length: Math.max(0, l0Files - 1) }, (_, i) => i + 2);
    await pool(txids, 8, async (txid) => {
      const pgnos = [...new Set([...fixed, indexLeafOf(txid)])].filter((p) => p !== lock).sort((a, b) => a - b);
      const header = {
        flags: HEADER_FLAG_NO_CHECKSUM, pageSize: dataset.pageSize, commit, minTXID: txid, maxTXID: txid,
        timestamp: BASE_TIMESTAMP + txid * 1000, preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
      };
      const file = encodeLtxFile({ header, pages: pgnos.map((pgno) => ({ pgno, data: pageBytes.get(pgno)! })), postApplyChecksum: 0n });
      await client.write(client.ltxKey(0, txid, txid), file, { timestamp: header.timestamp });
      bytes += file.byteLength;
    });
    return { url: stack.url(path), files: 1 + txids.length, bytes, snapshotBytes: bytesWritten, ms: performance.now() - started, pagesPerL0File: fixed.length + 1 };
  } finally {
    await client.close();
  }
}

/** Copy every LTX file of a file:// replica into `client`, same level and TXIDs. */
export async function copyReplica(from: ReplicaClient, to: ReplicaClient): Promise<{ files: number; bytes: number }> {
  const files = await listReplica(from);
  let bytes = 0;
  await pool(files, 8, async (f) => {
    const { data } = await from.read(f.key);
    await to.write(to.ltxKey(f.level, f.minTXID, f.maxTXID), data, { timestamp: f.createdAt });
    bytes += data.byteLength;
  });
  return { files: files.length, bytes };
}

/** The L0 replica of `files` files (bench/l0.ts, built or cached), copied to `l0-<files>` in the bucket. */
export async function uploadL0Replica(stack: S3Stack, workDir: string, files: number, log: (msg: string) => void): Promise<S3Upload> {
  const local = await l0Replica(workDir, files, log);
  const started = performance.now();
  const from = await openFileReplica(local.dir);
  const to = await openReplicaClient(stack.directUrl(`l0-${files}`), { env: S3_ENV });
  try {
    const copied = await copyReplica(from, to);
    return { url: stack.url(`l0-${files}`), files: copied.files, bytes: copied.bytes, snapshotBytes: 0, ms: performance.now() - started, pagesPerL0File: 3 };
  } finally {
    await from.close();
    await to.close();
  }
}

