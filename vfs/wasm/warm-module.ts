/**
 * An instance of SQLite's Asyncify build made ready while the replica is still being
 * listed: instantiated, and run once over a small in-memory database, so that V8 has
 * compiled the SQLite functions a first query needs before that query comes.
 *
 * Why: Node 20's V8 compiles wasm lazily (`--wasm-lazy-compilation` is on by default): the
 * compile of the module only validates it (~15 ms for the 2.2 MB build) and each function
 * is compiled by Liftoff on the main thread the first time it runs. The first open of a
 * process (SQLite's open, `PRAGMA cache_size`, the schema read) spent 27–44 ms there,
 * measured on a 200 MiB directory replica; a second connection's did it in under 1 ms
 * (docs/engines.md, "The first query of a process"). Compiled code belongs to the module,
 * so work done on any instance serves every later one. Run while `openDatabase` waits for
 * the listing and the page indexes — idle time on object storage — the compiles leave the
 * path of the first query. The in-memory database never suspends (no VFS call reaches
 * JavaScript), so the instance is free for the connection afterwards.
 */
import { loadAsyncifyModule, type AsyncifyModule } from './wa-sqlite.js';

/**
 * What the warm-up runs: the statements an open runs (`PRAGMA cache_size`, a schema read)
 * and the shapes of a first query (a rowid lookup, an index range, an aggregate), over a
 * table like an application's.
 */
export const WARM_UP_SQL = `PRAGMA cache_size = -8192;
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, name TEXT NOT NULL, body BLOB);
CREATE INDEX t_k ON t (k);
INSERT INTO t (k, name, body) VALUES (3, 'c', x'00'), (1, 'a', NULL), (2, 'b', zeroblob(8));
SELECT 1 FROM sqlite_schema LIMIT 1;
SELECT * FROM t WHERE id = 2;
SELECT id, name FROM t WHERE k BETWEEN 1 AND 2 ORDER BY k;
SELECT count(*), sum(length(body)), max(name) FROM t;`;

/**
 * A fresh Asyncify instance (as {@link loadAsyncifyModule}) on which {@link WARM_UP_SQL}
 * has run over `:memory:`, closed again. A failing warm-up is not an error of the open:
 * the instance is returned as it is, and the open meets whatever is wrong itself.
 * @throws Error (rejects) when the module cannot be compiled or instantiated, as {@link loadAsyncifyModule}.
 */
export async function loadWarmAsyncifyModule(): Promise<AsyncifyModule> {
  const loaded = await loadAsyncifyModule();
  const { sqlite3 } = loaded;
  let db: number | undefined;
  try {
    db = await sqlite3.open_v2(':memory:');
    await sqlite3.exec(db, WARM_UP_SQL);
  } catch {
    // Left to the real open (see above).
  } finally {
    if (db !== undefined) await sqlite3.close(db).catch(() => undefined);
  }
  return loaded;
}
