/**
 * Open cost against the number of L0 files: replicas of one small database (the bench
 * generator at 1 MiB) made of a snapshot (TXID 1) plus N − 1 L0 files of three pages
 * each, encoded with the project's encoder (ltx/encoder.ts) and written through the
 * directory client, as Litestream's file backend lays them out. The pages an L0 file
 * holds are existing pages with their bytes unchanged, so every state is the same valid
 * database while the reader still has to index every file.
 *
 * Replicas are cached in `bench/.work/l0/` by file count (and generator version).
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeLtxFile } from '../ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../ltx/header.js';
import { lockPgno } from '../ltx/checksum.js';
import { openFileReplica } from '../lib/storage/file/client.js';
import { prepareDataset } from './dataset.js';
import { measureOpens } from './ltxvfs.js';
import { startLitestreamSession } from './litestream.js';
import { fmtMs, median } from './table.js';
import { SQL, type Measured } from './workload.js';

const LAYOUT_VERSION = 1;
const PAGES_PER_L0_FILE = 3;
const BASE_TIMESTAMP = 1_795_254_709_256;

/** A replica with `files` LTX files in level 0. */
export interface L0Replica {
  files: number;
  url: string;
  dir: string;
  /** Total bytes of its LTX files. */
  bytes: number;
}

/** The replica of `files` L0 files (built now unless cached). */
export async function l0Replica(workDir: string, files: number, log: (msg: string) => void): Promise<L0Replica> {
  const dataset = await prepareDataset(workDir, 1, 1, log);
  const dir = join(workDir, 'l0', `v${LAYOUT_VERSION}-${files}-files`);
  const doneMarker = join(dir, 'complete.json');
  if (existsSync(doneMarker)) {
    const { bytes } = JSON.parse(await readFile(doneMarker, 'utf8')) as { bytes: number };
    return { files, url: pathToFileURL(dir).href, dir, bytes };
  }
  log(`l0: building a replica of ${files} L0 file(s) …`);
  await rm(dir, { recursive: true, force: true });
  const db = new Uint8Array(await readFile(dataset.dbPath));
  const pageSize = dataset.pageSize;
  const commit = db.length / pageSize;
  const page = (pgno: number): Uint8Array => db.subarray((pgno - 1) * pageSize, pgno * pageSize);
  const lock = lockPgno(pageSize);
  const header = (txid: number) => ({
    flags: HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTXID: txid, maxTXID: txid, timestamp: BASE_TIMESTAMP + txid * 1000,
    preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
  });
  const client = await openFileReplica(dir, { create: true });
  let bytes = 0;
  try {
    const all = [];
    for (let pgno = 1; pgno <= commit; pgno++) if (pgno !== lock) all.push({ pgno, data: page(pgno) });
    const snapshot = encodeLtxFile({ header: header(1), pages: all, postApplyChecksum: 0n });
    await client.write(client.ltxKey(0, 1, 1), snapshot, { timestamp: header(1).timestamp });
    bytes += snapshot.byteLength;
    for (let txid = 2; txid <= files; txid++) {
      const pgnos = new Set<number>();
      for (let k = 0; pgnos.size < PAGES_PER_L0_FILE; k++) {
        const pgno = 2 + ((txid * 7919 + k * 104729) % (commit - 1));
        if (pgno !== lock) pgnos.add(pgno);
      }
      const pages = [...pgnos].sort((a, b) => a - b).map((pgno) => ({ pgno, data: page(pgno) }));
      const bytesOfFile = encodeLtxFile({ header: header(txid), pages, postApplyChecksum: 0n });
      await client.write(client.ltxKey(0, txid, txid), bytesOfFile, { timestamp: header(txid).timestamp });
      bytes += bytesOfFile.byteLength;
    }
  } finally {
    await client.close();
  }
  await writeFile(doneMarker, JSON.stringify({ bytes }));
  return { files, url: pathToFileURL(dir).href, dir, bytes };
}

/** One row of the L0 table. */
export interface L0Row {
  files: number;
  bytes: number;
  /** ltxvfs: median open (fresh openDatabase instance in this process). */
  ltxvfsOpen: Measured;
  /** Litestream VFS: median `.open` + schema read (undefined when skipped). */
  litestreamOpenMs: number | undefined;
}

/**
 * Open each replica of `counts` L0 files `samples` times with ltxvfs (fresh instances in
 * one child process) and, unless `litestream` is false, with the Litestream VFS (one CLI
 * process per replica, `.open` per sample).
 */
export async function measureL0(
  workDir: string, counts: readonly number[], samples: number, litestream: boolean, log: (msg: string) => void,
): Promise<L0Row[]> {
  const replicas: L0Replica[] = [];
  for (const files of counts) replicas.push(await l0Replica(workDir, files, log));
  const opens = await measureOpens(replicas.map((r) => r.url), samples);
  const rows: L0Row[] = [];
  for (const [i, replica] of replicas.entries()) {
    let litestreamOpenMs: number | undefined;
    if (litestream) {
      const location = { name: 'file://', url: replica.url, env: {} };
      const session = await startLitestreamSession(location, join(workDir, `l0-litestream-${replica.files}.log`));
      try {
        const times: number[] = [];
        for (let k = 0; k < samples; k++) {
          times.push((await session.time(`.open 'file:bench.db?vfs=litestream'\n${SQL.schema};`)).ms);
        }
        litestreamOpenMs = median(times);
      } finally {
        await session.close();
      }
    }
    log(`l0: ${replica.files} file(s): ltxvfs open ${fmtMs(opens[i].ms)}, ${opens[i].requests} requests; Litestream VFS ${fmtMs(litestreamOpenMs)}`);
    rows.push({ files: replica.files, bytes: replica.bytes, ltxvfsOpen: opens[i], litestreamOpenMs });
  }
  return rows;
}
