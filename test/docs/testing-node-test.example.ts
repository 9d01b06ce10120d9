import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase } from '../../lib/index.js';
import { makeReplica, startS3Server, type S3Server, type TestReplica } from '../../lib/testing/index.js';

let s3: S3Server;
let replica: TestReplica;

before(async () => {
  // An in-process S3 server (s3rver) and a replica on it: one LTX file per transaction,
  // each stamped with the time given, so time travel can be tested.
  s3 = await startS3Server();
  replica = await makeReplica({
    s3,
    prefix: 'users-db',
    transactions: [
      { sql: 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)', at: new Date('2024-01-01T00:00:00Z') },
      { sql: "INSERT INTO users (name) VALUES ('ada'), ('grace')", at: new Date('2024-01-02T00:00:00Z') },
    ],
  });
});

after(async () => {
  await replica.cleanup();
  await s3.stop();
});

test('the service reads the newest state', async () => {
  // replica.env holds LITESTREAM_REPLICA_URL and the server's AWS keys: hand it to the code under test.
  const db = await openDatabase(undefined, { env: replica.env });
  try {
    assert.deepEqual(await db.all('SELECT name FROM users ORDER BY id'), [{ name: 'ada' }, { name: 'grace' }]);
    assert.equal(db.stats().txid, replica.txid);
  } finally {
    await db.close();
  }
});

test('time travel to the day before the insert', async () => {
  const db = await openDatabase(replica.url, { env: replica.env });
  try {
    await db.exec("PRAGMA litestream_time = '2024-01-01T12:00:00Z'");
    assert.deepEqual(await db.all('SELECT count(*) AS n FROM users'), [{ n: 0 }]);
  } finally {
    await db.close();
  }
});
