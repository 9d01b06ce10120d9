/**
 * Interop over S3 with the real Litestream 0.5.17 VFS (loaded into the sqlite3 CLI in a
 * child process, both on the same s3rver): Litestream reads a replica ltxvfs wrote, and
 * ltxvfs reads a replica Litestream wrote — same keys, same metadata, same rows.
 *
 * The child runs asynchronously (s3rver lives in this process and must keep answering)
 * with a clean environment: no `AWS_CA_BUNDLE`, which makes the extension's S3 client
 * fail to start (fixtures/litestream-0.5.17/README.md).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { importDatabase } from '../../../lib/tools/import.js';
import { openDatabase } from '../../../lib/api/open.js';
import { S3ReplicaClient } from '../../../lib/storage/s3/index.js';
import { parseRfc3339 } from '../../../lib/storage/rfc3339.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { sqlJsDatabase } from '../../helpers/replica-builder.js';
import { startS3rver } from '../../helpers/s3rver.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** Run the sqlite3 CLI with the Litestream VFS loaded and `sql` on a `litestream` database. */
function litestream(env: NodeJS.ProcessEnv, cwd: string, sql: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const input = `.load ${requireLitestreamVfs()} sqlite3_litestreamvfs_init\n.open file:db.sqlite?vfs=litestream\n${sql}\n`;
  return new Promise((resolve, reject) => {
    const child = spawn('sqlite3', ['-bail'], { env: { PATH: process.env.PATH, HOME: cwd, ...ENV, ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
    child.stdin.end(input);
  });
}

t.test('Litestream and ltxvfs read each other\'s s3:// replicas', async (t) => {
  requireSqlite3();
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const dir = t.testdir({});
  const base = `s3://${s3.bucket}`;
  const query = `?endpoint=${s3.endpoint}&forcePathStyle=true`;

  t.test('Litestream reads what ltxvfs imported', async (t) => {
    const dbPath = join(dir, 'src.db');
    await fs.writeFile(dbPath, await sqlJsDatabase(`
      CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500) INSERT INTO t SELECT x, 'row ' || x FROM c;`));
    const client = await openReplicaClient(`${base}/from-ltxvfs${query}`, { env: ENV });
    await importDatabase(dbPath, client, { timestamp: 1795254709256 });
    await client.close();
    const r = await litestream({ LITESTREAM_REPLICA_URL: `${base}/from-ltxvfs${query}` }, dir,
      "SELECT count(*), sum(id), max(name) FROM t;\nPRAGMA litestream_txid;");
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '500|125250|row 99\n0000000000000001');
  });

  t.test('ltxvfs reads what Litestream wrote', async (t) => {
    const url = `${base}/from-litestream${query}`;
    for (const sql of ['CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);', "INSERT INTO t (name) VALUES ('alpha'), ('bravo');"]) {
      const r = await litestream({ LITESTREAM_REPLICA_URL: url, LITESTREAM_WRITE_ENABLED: 'true' }, dir, sql);
      t.equal(r.code, 0, r.stderr);
    }
    const client = await openReplicaClient(url, { env: ENV }) as S3ReplicaClient;
    t.teardown(() => client.close());
    const files = await client.listLtxFiles(0, { useMetadata: true });
    t.same(files.map((f) => f.key), [client.ltxKey(0, 1, 1), client.ltxKey(0, 2, 2)], 'keys: <path>/0000/<min>-<max>.ltx');
    for (const f of files) {
      const stamp = (await client.headObject(f.key)).metadata['litestream-timestamp'];
      t.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/, 'Go RFC3339Nano, trailing zeros trimmed');
      t.equal(f.createdAt, parseRfc3339(stamp), 'useMetadata gives the header time');
    }
    const db = await openDatabase(url, { env: ENV });
    t.teardown(() => db.close());
    t.same(await db.all('SELECT * FROM t ORDER BY id'), [{ id: 1, name: 'alpha' }, { id: 2, name: 'bravo' }]);
  });
});
