/**
 * The database-file core's per-method suite and the write suite (test/vfs/core-suite.ts)
 * on the in-process (Asyncify) engine.
 */
import t from 'tap';
import { requireSqlite3 } from '../helpers/paths.js';
import { vfsSuite, writeSuite } from './core-suite.js';

requireSqlite3();

vfsSuite(t, 'asyncify');
writeSuite(t, 'asyncify');
