/**
 * The CLI side of issue 7: `ltxvfs hydrate <url> <file>` (same bytes as `ltxvfs restore`,
 * a second run reads nothing, refuses a foreign file unless --force) and
 * `ltxvfs query --cache-dir` / `LTXVFS_CACHE_DIR` (a second run reads nothing from storage).
 */
import t from 'tap';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importDatabase } from '../../../lib/tools/import.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { cli } from '../../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const REPLICA = join(FIXTURES, 'litestream-0.5.17/replica');
const CHINOOK = join(FIXTURES, 'chinook/Chinook_Sqlite.sqlite');


t.test('hydrate writes what restore writes; run again it reads nothing; a foreign file needs --force', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  const source = join(dir, 'chinook.db');
  await copyFile(CHINOOK, source);
  const client = await openReplicaClient(replica, { create: true });
  await importDatabase(source, client);
  await client.close();

  const out = join(dir, 'hydrated.db');
  const first = await cli(['hydrate', replica, out, '--range-bytes', '262144', '--concurrency', '2']);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^hydrated TXID 0000000000000001 into .*hydrated\.db: \d+ pages of 4096 bytes; read [\d.]+ [KM]iB in \d+ requests?, [\d.]+ s\n$/);
  const restored = join(dir, 'restored.db');
  t.equal((await cli(['restore', replica, restored])).code, 0);
  t.same(await readFile(out), await readFile(restored), 'byte for byte what restore writes');

  const again = await cli(['hydrate', replica, out]);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /read 0 B in 0 requests/, 'already complete at this TXID');

  const foreign = join(dir, 'mine.db');
  await writeFile(foreign, 'not a hydration');
  const refused = await cli(['hydrate', replica, foreign]);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /exists and is not a hydration/);
  t.equal(await readFile(foreign, 'utf8'), 'not a hydration', 'left alone');
  const forced = await cli(['hydrate', replica, foreign, '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.same(await readFile(foreign), await readFile(restored));

  const empty = join(dir, 'empty-replica');
  await (await openReplicaClient(empty, { create: true })).close();
  const none = await cli(['hydrate', empty, join(dir, 'nothing.db')]);
  t.equal(none.code, 1);
  t.match(none.stderr, /replica has no LTX files/);

  const bad = await cli(['hydrate', replica, out, '--concurrency', '0']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--concurrency takes a positive whole number/);
  t.match((await cli(['help'])).stdout, /hydrate <url> <file>/);
});

t.test('query --cache-dir (or LTXVFS_CACHE_DIR): the second run reads nothing from storage', async (t) => {
  const dir = t.testdir();
  const cacheDir = join(dir, 'cache');
  const sql = 'SELECT count(*) AS n, max(name) AS m FROM t';
  const first = await cli(['query', REPLICA, sql, '--json', '--stats', '--cache-dir', cacheDir]);
  t.equal(first.code, 0, first.stderr);
  const rows = JSON.parse(first.stdout) as { n: number }[];
  t.equal(rows[0].n, 250);
  t.match(first.stderr, /read_requests=[1-9]\d* .* disk_hits=0 disk_misses=\d+ disk_index_hits=0/);
  const second = await cli(['query', REPLICA, sql, '--json', '--stats'], { LTXVFS_CACHE_DIR: cacheDir });
  t.equal(second.code, 0, second.stderr);
  t.same(JSON.parse(second.stdout), rows, 'same rows');
  t.match(second.stderr, /pages_fetched=0 bytes_read=0 read_requests=0 .* disk_hits=[1-9]\d* disk_misses=0 disk_index_hits=5/);
  const none = await cli(['query', REPLICA, sql, '--stats']);
  t.notMatch(none.stderr, /disk_hits/, 'no disk tier without the option or the variable');
});
