// ES module consumer: node esm.mjs <replica-url> → {"asyncify": n, "worker": n, "sqljs": {code, message}}
import { loadSqlJs, openDatabase } from 'ltxvfs';
import { decodeHeader } from 'ltxvfs/ltx';

const url = process.argv[2];
const out = { decodeHeader: typeof decodeHeader };
for (const engine of ['asyncify', 'worker']) {
  const db = await openDatabase(url, { engine });
  out[engine] = (await db.get('SELECT count(*) AS n FROM Track')).n;
  await db.close();
}
try {
  await loadSqlJs(); // sql.js is an optional peer, not installed in this app
  out.sqljs = 'loaded';
} catch (err) {
  out.sqljs = { code: err.code, message: err.message };
}
console.log(JSON.stringify(out));
