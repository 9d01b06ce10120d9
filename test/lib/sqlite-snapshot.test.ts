/**
 * LiveDatabase (lib/tools/sqlite-snapshot.ts) when the -wal goes away between the layout
 * and the page reads: the last connection of a WAL database checkpoints and deletes the
 * -wal when it closes (sqlite.org/wal.html §"Persistence of WAL mode"). A clean-clone CI
 * run met this in import.test.ts's live writer (ENOENT opening the -wal); here it happens
 * on purpose, inside `onStart`, which runs between the two.
 */
import { existsSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { LiveDatabase } from '../../lib/tools/sqlite-snapshot.js';
import { bytesEqual, readBytes, sqliteCli } from '../helpers/replica-builder.js';

t.test('a -wal deleted between the layout and the page reads makes the read start again, and the state read is the checkpointed one', async (t) => {
  const dir = t.testdir();
  const dbPath = join(dir, 'wal.db');
  const copy = join(dir, 'copy.db');
  // A copy of the database and its -wal while the connection is open: the rows are only in the -wal.
  sqliteCli(dbPath, `PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);
    INSERT INTO t SELECT x + 3 FROM t;\n.shell cp '${dbPath}' '${copy}'; cp '${dbPath}-wal' '${copy}-wal'\n`);

  const live = await LiveDatabase.open(copy);
  t.teardown(() => live.close());
  const layouts: number[] = [];
  const pages: Uint8Array[] = [];
  const result = await live.read((layout) => {
    layouts.push(layout.walPages.size);
    pages.length = 0;
    if (layouts.length === 1) {
      // A connection opens and closes: it checkpoints the -wal into the file and deletes it.
      sqliteCli(copy, 'SELECT count(*) FROM t;');
      t.notOk(existsSync(`${copy}-wal`), 'the -wal is gone before the pages are read');
    }
  }, (_pgno, data) => {
    pages.push(data.slice());
  });
  t.ok(layouts[0] > 0, `the first layout had ${layouts[0]} pages in the -wal`);
  t.same(layouts.slice(1), [0], 'the second read has no -wal');
  t.equal(result.attempts, 2);
  t.equal(result.commit * result.pageSize, readBytes(copy).length);
  const read = new Uint8Array(pages.length * result.pageSize);
  pages.forEach((p, i) => read.set(p, i * result.pageSize));
  t.ok(bytesEqual(read, readBytes(copy)), 'the pages are the database file\'s, as checkpointed');
  t.equal(sqliteCli(copy, 'SELECT sum(x) FROM t;').trim(), '21', 'and that file holds every row');
});

t.test('a -wal that cannot be opened for another reason than being gone fails the read, naming it and the code', async (t) => {
  const dir = t.testdir();
  const dbPath = join(dir, 'wal.db');
  const copy = join(dir, 'copy.db');
  sqliteCli(dbPath, `PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x); INSERT INTO t VALUES (1);
    \n.shell cp '${dbPath}' '${copy}'; cp '${dbPath}-wal' '${copy}-wal'\n`);
  const live = await LiveDatabase.open(copy);
  t.teardown(() => live.close());
  await t.rejects(live.read(async () => {
    // Between the layout and the page reads: the -wal becomes a link to itself (ELOOP on open).
    await rm(`${copy}-wal`);
    await symlink(`${copy}-wal`, `${copy}-wal`);
  }, () => undefined), { code: 'LTXVFS_ERR_STORAGE', key: copy, message: `${copy}-wal: cannot open the write-ahead log (ELOOP)` });
});
