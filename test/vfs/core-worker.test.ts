/**
 * The database-file core's per-method suite and the write suite (test/vfs/core-suite.ts)
 * on the worker engine (its VFS in this thread for the per-method suite, in its worker for the write suite).
 */
import t from 'tap';
import { requireSqlite3 } from '../helpers/paths.js';
import { vfsSuite, writeSuite } from './core-suite.js';

requireSqlite3();

vfsSuite(t, 'worker');
writeSuite(t, 'worker');
