import t from 'tap';
import { eq, count } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { openDatabase } from '../../lib/index.js';
import { drizzle } from '../../lib/drizzle/index.js';
import { makeReplica } from '../../lib/testing/index.js';

const authors = sqliteTable('authors', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
});
const books = sqliteTable('books', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  authorId: integer('author_id').notNull().references(() => authors.id),
});

t.test('Drizzle on a replica, writing under the lease', async (t) => {
  const replica = await makeReplica({
    transactions: [`CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE books (id INTEGER PRIMARY KEY, name TEXT NOT NULL, author_id INTEGER NOT NULL REFERENCES authors (id));`],
  });
  t.teardown(() => replica.cleanup());
  const database = await openDatabase(replica.url, { autoLease: true }); // holds the write lease
  t.teardown(() => database.close());
  const db = drizzle(database);

  // One Drizzle transaction is one database.transaction(): one LTX file when it commits.
  await db.transaction(async (tx) => {
    const [{ id }] = await tx.insert(authors).values({ name: 'Ursula K. Le Guin' }).returning({ id: authors.id });
    await tx.insert(books).values([{ name: 'The Dispossessed', authorId: id }, { name: 'The Lathe of Heaven', authorId: id }]);
  });

  // Both tables have `id` and `name`; rows come as arrays, so the join keeps them apart.
  const rows = await db.select().from(books).innerJoin(authors, eq(books.authorId, authors.id)).orderBy(books.id);
  t.same(rows, [
    { books: { id: 1, name: 'The Dispossessed', authorId: 1 }, authors: { id: 1, name: 'Ursula K. Le Guin' } },
    { books: { id: 2, name: 'The Lathe of Heaven', authorId: 1 }, authors: { id: 1, name: 'Ursula K. Le Guin' } },
  ]);

  // A throw (or tx.rollback()) rolls the transaction back.
  await t.rejects(db.transaction(async (tx) => {
    await tx.delete(books);
    throw new Error('not today');
  }), /not today/);
  t.same(await db.select({ n: count() }).from(books), [{ n: 2 }]);
});
