/**
 * `npx tsx bench/verify.ts [--size-mib N]` — the cost of background verification
 * (lib/read/verifier.ts), on its own: a database of N MiB (default 200) of incompressible
 * rows is imported into a file:// replica (one snapshot, far above the 2 MiB whole-file
 * bound); a fresh reader opens it, runs one point lookup, and waits for `readVerified`.
 * Prints the requests and bytes of the lookup and of the verification, the time from the
 * lookup to "verified", and the same for the whole-file bound (the time to read, decode
 * and check a file of 1, 2 and 4 MiB at load). Requests and bytes are the same over S3;
 * time over S3 adds one round trip per 4 MiB range (`verifyRangeBytes`).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { openDatabase, readVerified } from '../lib/api/open.js';
import { importDatabase } from '../lib/tools/import.js';
import { openReplicaClient } from '../lib/storage/url.js';
import { loadLtxFile } from '../lib/replica/ltx-loader.js';
import { newReadCounters } from '../lib/read/fetcher.js';
import { listReplica } from '../lib/replica/plan.js';
import { requireSqlite3 } from '../test/helpers/paths.js';

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '200' } } });
const sizeMib = Number(values['size-mib']);
const work = join(fileURLToPath(new URL('.', import.meta.url)), '.work', 'verify');

/** A fresh replica holding a database of `mib` MiB of random 3000-byte rows. */
async function makeReplica(name: string, mib: number): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const db = join(dir, 'source.db');
  const rows = Math.ceil((mib * 1024 * 1024) / 3100);
  requireSqlite3();
  execFileSync('sqlite3', [db], {
    input: `PRAGMA page_size = 4096; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) INSERT INTO t SELECT x, randomblob(3000) FROM c;`,
  });
  const url = `file://${join(dir, 'replica')}`;
  const client = await openReplicaClient(url, { create: true });
  try {
    await importDatabase(db, client);
  } finally {
    await client.close();
  }
  return url;
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

const url = await makeReplica('large', sizeMib);
const db = await openDatabase(url, { pollIntervalMs: 0, shared: false, warmInterior: false });
const t0 = process.hrtime.bigint();
await db.get('SELECT length(v) AS n FROM t WHERE id = 1234');
const lookupMs = ms(t0);
const afterLookup = db.stats();
await readVerified(db);
const verifiedMs = ms(t0);
const s = db.stats();
await db.close();
console.log(`## Background verification: ${sizeMib} MiB database, one snapshot (file://)\n`);
console.log('| what | requests | bytes | ms |');
console.log('| --- | ---: | ---: | ---: |');
console.log(`| point lookup (cold) | ${afterLookup.readRequests} | ${afterLookup.bytesRead} | ${lookupMs.toFixed(1)} |`);
console.log(`| verification of the snapshot (${s.verification.filesVerified} file) | ${s.verification.verifyRequests} | ${s.verification.verifyBytes} | ${verifiedMs.toFixed(1)} (lookup to verified) |`);
console.log(`| frames fed from the lookup's reads | ${s.verification.framesCoalesced} | | |`);

console.log('\n## Whole-file bound: one file read whole, decoded and checked at load\n');
console.log('| file | bytes | ms |');
console.log('| --- | ---: | ---: |');
for (const mib of [1, 2, 4]) {
  const u = await makeReplica(`whole-${mib}`, mib * 0.95);
  const client = await openReplicaClient(u);
  const [info] = await listReplica(client);
  const t1 = process.hrtime.bigint();
  await loadLtxFile(client, info, newReadCounters(), undefined, Number.MAX_SAFE_INTEGER);
  console.log(`| ${mib} MiB | ${info.size} | ${ms(t1).toFixed(1)} |`);
  await client.close();
}
