import t from 'tap';
import { LtxvfsError } from '../../ltx/errors.js';
import {
  SQLITE_CORRUPT,
  SQLITE_IOERR,
  SQLITE_IOERR_READ,
  SQLITE_READONLY,
  sqliteCodeForError,
} from '../../vfs/core/error-codes.js';

t.test('checksum and structure errors become SQLITE_CORRUPT', async (t) => {
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_CORRUPT', 'x')), SQLITE_CORRUPT);
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_CHECKSUM', 'x')), SQLITE_CORRUPT);
});

t.test('storage errors become the method\'s I/O error code, SQLITE_IOERR_READ by default', async (t) => {
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_STORAGE', 'x')), SQLITE_IOERR_READ);
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_NOT_FOUND', 'x')), SQLITE_IOERR_READ);
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_STORAGE', 'x'), 3850), 3850);
});

t.test('read-only, explicit codes, and everything else', async (t) => {
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_READONLY', 'x')), SQLITE_READONLY);
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_PRECONDITION', 'x', { sqliteCode: 5 })), 5, 'sqliteCode wins');
  t.equal(sqliteCodeForError(new LtxvfsError('LTXVFS_ERR_TXID_GAP', 'x')), SQLITE_IOERR);
  t.equal(sqliteCodeForError(new Error('plain')), SQLITE_IOERR);
  t.equal(sqliteCodeForError('a string'), SQLITE_IOERR);
});
