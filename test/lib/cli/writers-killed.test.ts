/**
 * Writers killed mid-commit, as issue 12 probed them: 30 `ltxvfs exec` processes
 * (test/helpers/cli-child.ts) killed with SIGKILL while their LTX file's temporary copy
 * exists, then the next writer's lease acquisition and `compact` clean up.
 */
import t from 'tap';
import { cp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { listTempFiles } from '../../../lib/write/temp-files.js';
import { cli } from '../../helpers/cli.js';
import { onLines, spawnCliChild } from '../../helpers/cli-child.js';
import { copyFixtureReplica } from '../../helpers/replica-builder.js';

const KILLED = 30;
// 30 processes started one after the other: about two minutes alone, more beside the rest of the suite.
t.setTimeout(600_000);

t.test(`${KILLED} writers killed mid-commit: no temporary file left after the next writer's lease or after compact`, async (t) => {
  const dir = join(t.testdir({}), 'replica');
  await copyFixtureReplica(dir);
  // About 2 MiB of text: the temporary copy is megabytes, like the ones issue 12 found.
  const big = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO t (name) SELECT hex(randomblob(1000)) FROM n";
  for (let k = 0; k < KILLED; k++) {
    const child = spawnCliChild({ runs: [['exec', dir, big, '--wait', '0']], pauseAtTempFile: true });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const paused = await new Promise<string>((resolve, reject) => {
      onLines(child, (line) => {
        if (line.event === 'paused') resolve(line.path as string);
        else reject(new Error(`writer ${k} did not pause: ${JSON.stringify(line)}`));
      });
      child.on('close', (code) => reject(new Error(`writer ${k} exited (${code}) before its temporary file: ${stderr}`)));
    });
    t.ok((await stat(paused)).size > 1 << 20, `writer ${k} paused with a temporary file of ${(await stat(paused)).size} bytes`);
    const closed = new Promise((resolve) => child.on('close', resolve));
    child.kill('SIGKILL');
    await closed;
    // The dead writer's lease would run out after its 30 s time to live; the next one should not wait for it.
    await rm(join(dir, 'lock.json'));
  }
  const leftovers = (await readdir(join(dir, 'ltx/0'))).filter((n) => n.includes('.tmp-'));
  t.equal(leftovers.length, KILLED, 'each killed writer left its temporary file (younger than the default bound: kept)');
  const verify = await cli(['verify', dir]);
  t.equal(verify.code, 0, 'leftovers are not problems');
  t.equal(verify.stdout.split('\n').filter((l) => /^leftover ltx\/0\/0000000000000006-0000000000000006\.ltx\.tmp-[0-9a-f]+: half-written temporary file, [\d.]+ MiB, \d+ s old/.test(l)).length, KILLED, verify.stdout);

  const copy = join(t.testdirName, 'copy');
  await cp(dir, copy, { recursive: true });

  const next = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('after the kills')", '--temp-max-age', '0']);
  t.equal(next.code, 0, next.stderr);
  t.equal(next.stdout, 'committed TXID 0000000000000006\n', 'nothing of the killed writers was shipped');
  const client = await openFileReplica(dir);
  t.same(await listTempFiles(client), [], 'removed at the next writer\'s lease acquisition');
  await client.close();

  const compact = await cli(['compact', copy, '--temp-max-age', '0']);
  t.equal(compact.code, 0, compact.stderr);
  t.equal(compact.stdout.split('\n').filter((l) => l.startsWith('removed half-written ltx/0/')).length, KILLED);
  t.same((await readdir(join(copy, 'ltx/0'))).filter((n) => n.includes('.tmp-')), [], 'removed by compact');
  t.notMatch((await cli(['verify', copy])).stdout, /leftover/);
});
