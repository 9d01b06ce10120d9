// CommonJS consumer: require() of the ES module package (Node 20.19+ / 22.12+, the engines range).
import ltxvfs = require('ltxvfs');

export async function count(url: string): Promise<number> {
  const db = await ltxvfs.openDatabase(url);
  const row = await db.get<{ n: number }>('SELECT count(*) AS n FROM Track');
  await db.close();
  return row?.n ?? -1;
}
