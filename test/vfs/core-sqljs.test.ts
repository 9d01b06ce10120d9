/**
 * The database-file core's per-method suite and the write suite (test/vfs/core-suite.ts)
 * on the sql.js adapter.
 */
import t from 'tap';
import { requireSqlite3 } from '../helpers/paths.js';
import { vfsSuite, writeSuite } from './core-suite.js';

requireSqlite3();

vfsSuite(t, 'sqljs');
writeSuite(t, 'sqljs');
