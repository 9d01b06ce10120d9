import t from 'tap';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../lib/index.js';
import { makeReplica } from '../../lib/testing/index.js';

// A SQLite file checked into the repository, turned into a replica in a temporary directory.
const CHINOOK = fileURLToPath(new URL('../../fixtures/chinook/Chinook_Sqlite.sqlite', import.meta.url));

t.test('albums of an artist, read from a replica', async (t) => {
  const replica = await makeReplica({ from: CHINOOK });
  t.teardown(() => replica.cleanup());
  const db = await openDatabase(replica.url);
  t.teardown(() => db.close());

  const rows = await db.all<{ Title: string }>(
    'SELECT Title FROM Album WHERE ArtistId = (SELECT ArtistId FROM Artist WHERE Name = ?) ORDER BY Title',
    ['Led Zeppelin'],
  );
  t.equal(rows.length, 14);
  t.equal(rows[0].Title, 'BBC Sessions [Disc 1] [Live]');
});
