/** A database's bytes after running SQL on a copy of them in sql.js: the expected state of a replica after the same writes. */
import { loadSqlJs } from './replica-builder.js';

/** The bytes of `from` after `sql` (sql.js, in memory; `from` is not changed). */
export async function databaseAfter(sql: string, from: Uint8Array): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(from);
  try {
    db.exec(sql);
    return db.export();
  } finally {
    db.close();
  }
}
