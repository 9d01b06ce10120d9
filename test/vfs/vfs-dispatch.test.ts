/**
 * installVfsDispatch (vfs/core/vfs-dispatch.ts): the relay that skips wa-sqlite's per-call
 * method-name decoding, installed only on the glue it knows.
 */
/// <reference types="@journeyapps/wa-sqlite" />
import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite';
import { installVfsDispatch } from '../../vfs/core/vfs-dispatch.js';
import { loadAsyncifyModule } from '../../vfs/wasm/wa-sqlite.js';
import { LtxAsyncVFS } from '../../vfs/asyncify/vfs.js';
import { loadSyncModule } from '../../vfs/wasm/wa-sqlite-sync.js';
import { LtxSyncVFS } from '../../vfs/worker/vfs.js';
import { chinookBytes, headerPageSize } from '../helpers/bytes-source.js';

/**
 * Register `vfs` with `source` as 'chinook', install the dispatch, scan Track three times
 * with SQLite's cache off: the rows, and how many strings the glue decoded meanwhile.
 */
async function scanThrough(
  module: { UTF8ToString(p: number): string }, sqlite3: SQLiteAPI, vfs: { name: string; addDatabase(name: string, source: never): void },
  source: unknown,
): Promise<{ installed: boolean; rows: unknown[]; decoded: number }> {
  sqlite3.vfs_register(vfs as unknown as SQLiteVFS, false);
  vfs.addDatabase('chinook', source as never);
  let decoded = 0;
  const UTF8ToString = module.UTF8ToString.bind(module);
  module.UTF8ToString = (p: number) => {
    decoded++;
    return UTF8ToString(p);
  };
  const installed = installVfsDispatch(module, vfs);
  const db = await sqlite3.open_v2('chinook', SQLite.SQLITE_OPEN_READONLY, vfs.name);
  const rows: unknown[] = [];
  await sqlite3.exec(db, 'PRAGMA cache_size = 0');
  for (let i = 0; i < 3; i++) await sqlite3.exec(db, 'SELECT count(*), sum(length(Name)) FROM Track', (row) => rows.push(row));
  await sqlite3.close(db);
  return { installed, rows, decoded };
}

t.test('installed on wa-sqlite\'s glue: queries run through it, each name decoded once', async (t) => {
  const bytes = chinookBytes();
  const pageSize = headerPageSize(bytes);
  const version = { txid: 1, pageSize, commit: bytes.length / pageSize, timestamp: 0 };
  let reads = 0;
  const source = {
    acquire: () => version,
    release: () => undefined,
    readPage: (_v: unknown, pgno: number) => {
      reads++;
      return bytes.subarray((pgno - 1) * pageSize, pgno * pageSize);
    },
  };
  const { module, sqlite3 } = await loadSyncModule();
  const { installed, rows, decoded } = await scanThrough(module, sqlite3, new LtxSyncVFS(module, { name: 'dispatch-test' }), source);
  t.equal(installed, true);
  t.same(rows[0], [3503, 55639]);
  t.ok(reads > 100, `${reads} page reads`);
  t.ok(decoded < 40, `${decoded} strings decoded for ${reads} reads and the other calls`);
});

t.test('installed on the Asyncify build: hits complete in place, misses suspend and resume through it', async (t) => {
  const bytes = chinookBytes();
  const pageSize = headerPageSize(bytes);
  const version = { txid: 1, pageSize, commit: bytes.length / pageSize, timestamp: 0 };
  const page = (pgno: number): Uint8Array => bytes.subarray((pgno - 1) * pageSize, pgno * pageSize);
  let misses = 0;
  const source = {
    acquire: () => version,
    release: () => undefined,
    // Every other page is a miss answered later: SQLite unwinds and resumes through the dispatcher.
    readPage: (_v: unknown, pgno: number) => (pgno % 2 === 0 ? page(pgno) : new Promise<Uint8Array>((r) => setImmediate(() => {
      misses++;
      r(page(pgno));
    }))),
  };
  const { module, sqlite3 } = await loadAsyncifyModule();
  const vfs = new LtxAsyncVFS(module, { name: 'dispatch-async' });
  const { installed, rows, decoded } = await scanThrough(module, sqlite3, vfs, source);
  t.equal(installed, true);
  t.same(rows, [[3503, 55639], [3503, 55639], [3503, 55639]]);
  t.ok(vfs.counters.suspendedReads > 50 && misses === vfs.counters.suspendedReads, `${vfs.counters.suspendedReads} reads suspended and resumed`);
  t.ok(decoded < 40, `${decoded} strings decoded for ${vfs.counters.reads} reads and the other calls`);
});

t.test('other glue is left alone', async (t) => {
  t.equal(installVfsDispatch({}, { name: 'x' }), false, 'no callback registry');
  const module = { getCallback: () => undefined, setCallback: () => t.fail('must not replace'), ccall: () => 1234, UTF8ToString: () => '' };
  t.equal(installVfsDispatch(module, { name: 'x' }), false, 'a receiver that is not the VFS');
  t.equal(installVfsDispatch({ ...module, ccall: () => 0 }, { name: 'x' }), false, 'no such VFS');
});
