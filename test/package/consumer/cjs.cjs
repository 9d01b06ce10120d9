// CommonJS consumer: node cjs.cjs <replica-url> → {"n": count}
const { openDatabase, LtxvfsError } = require('ltxvfs');
const ltx = require('ltxvfs/ltx');

(async () => {
  const db = await openDatabase(process.argv[2]);
  const row = await db.get('SELECT count(*) AS n FROM Track');
  await db.close();
  console.log(JSON.stringify({ n: row.n, errorClass: typeof LtxvfsError, codec: typeof ltx.decodeHeader }));
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
