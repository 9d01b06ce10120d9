/**
 * installVfsDispatch (vfs/worker/vfs-dispatch.ts): the relay that skips wa-sqlite's per-call
 * method-name decoding, installed only on the glue it knows.
 */
import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite';
import { installVfsDispatch } from '../../vfs/worker/vfs-dispatch.js';
import { loadSyncModule } from '../../vfs/wasm/wa-sqlite-sync.js';
import { LtxSyncVFS } from '../../vfs/worker/vfs.js';
import { chinookBytes, headerPageSize } from '../helpers/bytes-source.js';

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
  const vfs = new LtxSyncVFS(module, { name: 'dispatch-test' });
  sqlite3.vfs_register(vfs, false);
  vfs.addDatabase('chinook', source);
  let decoded = 0;
  const UTF8ToString = module.UTF8ToString.bind(module);
  (module as { UTF8ToString: (p: number) => string }).UTF8ToString = (p: number) => {
    decoded++;
    return UTF8ToString(p);
  };
  t.equal(installVfsDispatch(module, vfs), true);
  const db = await sqlite3.open_v2('chinook', SQLite.SQLITE_OPEN_READONLY, vfs.name);
  const rows: unknown[] = [];
  await sqlite3.exec(db, 'PRAGMA cache_size = 0');
  for (let i = 0; i < 3; i++) await sqlite3.exec(db, 'SELECT count(*), sum(length(Name)) FROM Track', (row) => rows.push(row));
  t.same(rows[0], [3503, 55639]);
  t.ok(reads > 100, `${reads} page reads`);
  t.ok(decoded < 40, `${decoded} strings decoded for ${reads} reads and the other calls`);
  await sqlite3.close(db);
});

t.test('other glue is left alone', async (t) => {
  t.equal(installVfsDispatch({}, { name: 'x' }), false, 'no callback registry');
  const module = { getCallback: () => undefined, setCallback: () => t.fail('must not replace'), ccall: () => 1234, UTF8ToString: () => '' };
  t.equal(installVfsDispatch(module, { name: 'x' }), false, 'a receiver that is not the VFS');
  t.equal(installVfsDispatch({ ...module, ccall: () => 0 }, { name: 'x' }), false, 'no such VFS');
});
