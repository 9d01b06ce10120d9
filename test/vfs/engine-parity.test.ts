/**
 * The shared engine suite (test/helpers/engine-suite.ts) against the in-process
 * (Asyncify) engine: the reference the worker engine (worker-engine.test.ts) and the
 * sql.js adapter (sqljs-engine.test.ts) are held to, with the same replicas and
 * expectations.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import {
  badInputChecks, buildSuiteFixture, interopChecks, isolationChecks, timeTravelChecks, type SuiteFixture,
} from '../helpers/engine-suite.js';

requireSqlite3();
requireLitestreamVfs();

let fixture: SuiteFixture;
t.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-engine-parity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  fixture = await buildSuiteFixture(dir);
});

t.test('interop: replicas the real Litestream VFS wrote read like their sources', (t) => interopChecks(t, 'asyncify', fixture));
t.test('bad input: a damaged frame is SQLITE_CORRUPT naming the file; a missing replica fails the open', (t) => badInputChecks(t, 'asyncify'));
t.test('isolation: a read transaction keeps its version across remote commits', (t) => isolationChecks(t, 'asyncify'));
t.test('time travel: PRAGMA litestream_time, litestream_set_time(), at', (t) => timeTravelChecks(t, 'asyncify'));
