import t from 'tap';
import { Kysely, type Generated } from 'kysely';
import { openDatabase } from '../../lib/index.js';
import { LtxvfsDialect } from '../../lib/kysely/index.js';
import { makeReplica } from '../../lib/testing/index.js';

interface DB {
  authors: { id: Generated<number>; name: string };
  books: { id: Generated<number>; name: string; author_id: number };
}

t.test('Kysely on a replica, writing under the lease', async (t) => {
  const replica = await makeReplica({
    transactions: [`CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE books (id INTEGER PRIMARY KEY, name TEXT NOT NULL, author_id INTEGER NOT NULL REFERENCES authors (id));`],
  });
  t.teardown(() => replica.cleanup());
  const database = await openDatabase(replica.url, { autoLease: true }); // holds the write lease
  t.teardown(() => database.close());
  const db = new Kysely<DB>({ dialect: new LtxvfsDialect({ database }) });

  // One Kysely transaction is one database.transaction(): one LTX file when it commits.
  await db.transaction().execute(async (trx) => {
    const { id } = await trx.insertInto('authors').values({ name: 'Ursula K. Le Guin' }).returning('id').executeTakeFirstOrThrow();
    await trx.insertInto('books').values([{ name: 'The Dispossessed', author_id: id }, { name: 'The Lathe of Heaven', author_id: id }]).execute();
  });

  // Both tables have `id` and `name`: select them under aliases.
  const rows = await db.selectFrom('books')
    .innerJoin('authors', 'authors.id', 'books.author_id')
    .select(['books.id as bookId', 'books.name as title', 'authors.id as authorId', 'authors.name as author'])
    .orderBy('books.id')
    .execute();
  t.same(rows, [
    { bookId: 1, title: 'The Dispossessed', authorId: 1, author: 'Ursula K. Le Guin' },
    { bookId: 2, title: 'The Lathe of Heaven', authorId: 1, author: 'Ursula K. Le Guin' },
  ]);

  // A throw rolls the transaction back.
  await t.rejects(db.transaction().execute(async (trx) => {
    await trx.deleteFrom('books').execute();
    throw new Error('not today');
  }), /not today/);
  t.equal((await db.selectFrom('books').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 2);

  // stream() reads through a prepared statement, a batch of rows at a time.
  const titles: string[] = [];
  for await (const book of db.selectFrom('books').select('name').orderBy('name').stream(100)) titles.push(book.name);
  t.same(titles, ['The Dispossessed', 'The Lathe of Heaven']);
});
