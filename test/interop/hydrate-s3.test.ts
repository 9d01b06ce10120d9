/**
 * Hydration over S3 (s3rver behind the fault proxy adding 10 ms to every request) of a
 * ~24 MiB database with later level-0 files: a hydrating process killed with SIGKILL
 * halfway is resumed by a second one, which finishes it; the file is byte for byte what
 * `ltxvfs restore` writes and passes `PRAGMA integrity_check`. The bench (bench/hydrate.ts)
 * does the same at ≥ 200 MiB beside the Litestream VFS.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { importDatabase } from '../../lib/tools/import.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { HYDRATION_STATE_SUFFIX, type HydrationStats } from '../../lib/hydrate/index.js';
import { runCli } from '../../lib/cli/run.js';
import { makeOracleDatabase } from '../helpers/datagen.js';
import { sqliteExec, sqliteQuery } from '../helpers/sqlite-cli.js';
import { requireSqlite3 } from '../helpers/paths.js';
import { bytesEqual, diffDatabases, encodeLtx, timestampOf } from '../helpers/replica-builder.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { onLines, runChild, spawnChild } from '../helpers/ltxvfs-child.js';
import { PassThrough } from 'node:stream';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

t.test('a hydration killed halfway over S3 resumes and yields exactly the restored database', async (t) => {
  requireSqlite3();
  const dir = t.testdir();
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint, { latencyMs: 10 });
  t.teardown(() => proxy.close());

  // ~24 MiB snapshot, then two level-0 files changing rows and growing the database.
  const source = join(dir, 'source.db');
  const info = await makeOracleDatabase(source, { approxBytes: 24 * 2 ** 20, seed: 7 });
  const v1 = new Uint8Array(await fs.readFile(source));
  await sqliteExec(source, "UPDATE users SET name = name || ' jr' WHERE id % 13 = 0;");
  const v2 = new Uint8Array(await fs.readFile(source));
  await sqliteExec(source, "INSERT INTO users (name, email, country, score, created_at) SELECT name || ' copy', 'copy-' || email, country, score, created_at FROM users WHERE id <= 2000;");
  const v3 = new Uint8Array(await fs.readFile(source));
  const path = 'oracle';
  const direct = await openReplicaClient(`s3://${s3.bucket}/${path}?endpoint=${s3.endpoint}&forcePathStyle=true`, { env: ENV });
  await fs.writeFile(join(dir, 'v1.db'), v1);
  await importDatabase(join(dir, 'v1.db'), direct);
  for (const spec of [diffDatabases(v1, v2, { minTXID: 2 }), diffDatabases(v2, v3, { minTXID: 3 })]) {
    await direct.write(direct.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
  }
  await direct.close();
  const url = `s3://${s3.bucket}/${path}?endpoint=${proxy.endpoint}&forcePathStyle=true`;
  t.comment(`database: ${(info.bytes / 2 ** 20).toFixed(1)} MiB, ${v3.length / 4096} pages after TXID 3`);

  // The reference: `ltxvfs restore` over the same proxy.
  const restored = join(dir, 'restored.db');
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: ENV };
  t.equal(await runCli(['restore', url, restored], io), 0);

  const hydrated = join(dir, 'hydrated.db');
  const options = { hydrate: hydrated, cacheSizeBytes: 0, hydrateOptions: { rangeBytes: 512 * 1024, concurrency: 1, checkpointIntervalMs: 50 } };

  // First process: killed with SIGKILL once a checkpoint shows 40 % done.
  proxy.reset();
  const child = spawnChild({ mode: 'hydrate', url, env: ENV, options });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let atKill: HydrationStats | undefined;
  onLines(child, (line) => {
    const s = line as unknown as HydrationStats & { event: string };
    if (s.event === 'checkpoint' && atKill === undefined && s.pagesCheckpointed >= 0.4 * s.pagesTotal) {
      atKill = s;
      child.kill('SIGKILL');
    }
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.equal(exit.signal, 'SIGKILL', `killed halfway (${stderr.trim() || 'no stderr'})`);
  t.ok(atKill !== undefined && atKill.pagesDone < atKill.pagesTotal, `at ${atKill?.pagesCheckpointed} (durable) of ${atKill?.pagesTotal} pages`);
  const firstGets = proxy.stats().gets.object;
  const state = JSON.parse(await fs.readFile(hydrated + HYDRATION_STATE_SUFFIX, 'utf8')) as { txid: number; target?: number; done: Record<string, [number, number][]> };
  t.equal(state.target, 3, 'the state file records the pass in progress');
  t.equal(state.txid, 0, 'and that the file holds no complete state yet');
  t.ok(Object.values(state.done).flat().length > 0, 'and the ranges already written');

  // Second process: resumes (taking over the dead process's lock) and finishes.
  proxy.reset();
  const done = await runChild({ mode: 'hydrate', url, env: ENV, options });
  const second = done.stats.hydration as HydrationStats;
  t.match(second, { state: 'ready', txid: 3, progress: 100 });
  t.ok(second.pagesResumed >= atKill!.pagesCheckpointed, `resumed: ${second.pagesResumed} pages not written again (≥ ${atKill!.pagesCheckpointed} checkpointed before the kill)`);
  t.equal(second.pagesResumed + second.pagesWritten, second.pagesTotal);
  const secondGets = proxy.stats().gets.object;
  t.comment(`object GETs: ${firstGets} before the kill, ${secondGets} to finish (index reads included); ${second.readRequests} hydration range reads`);
  t.ok(second.readRequests < Math.ceil((v3.length * 0.7) / (512 * 1024)) + 4, 'the second run read only what was left');

  const got = new Uint8Array(await fs.readFile(hydrated));
  t.ok(bytesEqual(got, new Uint8Array(await fs.readFile(restored))), 'byte for byte what `ltxvfs restore` wrote');
  t.same(await sqliteQuery(hydrated, 'PRAGMA integrity_check', { readonly: true }), [{ integrity_check: 'ok' }]);
  t.same(await sqliteQuery(hydrated, "SELECT count(*) AS n FROM users WHERE name LIKE '% copy'", { readonly: true }),
    await sqliteQuery(restored, "SELECT count(*) AS n FROM users WHERE name LIKE '% copy'", { readonly: true }));

  // A third process finds it complete at the same TXID: no range read at all.
  proxy.reset();
  const third = await runChild({ mode: 'hydrate', url, env: ENV, options });
  t.match(third.stats.hydration, { state: 'ready', readRequests: 0, pagesWritten: 0 });
});
