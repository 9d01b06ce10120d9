/** A poll that loads files while this process's writer moves the reader on must not take it back. */
import t from 'tap';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { waitFor } from '../helpers/polling.js';
import { CountingClient, historyFromStates, sqlJsHistory, writeLtx, writeReplica } from '../helpers/replica-builder.js';

t.test('a poll finishing after a newer version was adopted keeps the newer one and counts no failure', async (t) => {
  const dir = t.testdir();
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)',
    "INSERT INTO t (v) VALUES ('a')",
    "INSERT INTO t (v) VALUES ('b')",
  ]);
  const specs = historyFromStates(states);
  await writeReplica(dir, specs.slice(0, 1));
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  await writeLtx(dir, specs[1]);
  await writeLtx(dir, specs[2]);
  const newer = await reader.versionAt(undefined); // TXID 3, not yet current
  const release = client.hold(); // the poll will wait in its reads of TXIDs 2 and 3
  const reads = client.reads.length;
  const poll = reader.poller.pollNow();
  // Not a fixed 20 ms, which a loaded machine may spend before the poll reaches its reads.
  await waitFor('the poll to wait in its reads', () => client.reads.length > reads);
  // Meanwhile TXID 3 becomes current the way a commit of this process makes it (lib/write/writer.ts).
  reader.adopt(newer, newer.files.at(-1)!, []);
  release();
  await poll;
  t.equal(reader.current, newer, 'the version adopted meanwhile stays current');
  t.equal(reader.current.txid, 3, 'still at TXID 3');
  t.equal(reader.stats().pollFailures, 0, 'the late poll is not a failure');
  await reader.close();
});
