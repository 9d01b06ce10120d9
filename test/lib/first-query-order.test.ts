/**
 * The first query of a reader just opened goes before its background reads (issue 15
 * item 1), counted at the storage client over a real directory replica: the background
 * verification that a page served at open starts (or any background read) waits for the
 * first query's first page read, however long the caller takes to send that query —
 * before, it went out as soon as the foreground had been quiet for 20 ms, so a query sent
 * a little after the open found a 4 MiB verification range on the link. Without a query it
 * starts after the first-query delay. Time is the test's (a clock moved by hand), never measured.
 */
import t, { type Test } from 'tap';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import type { FetchClock } from '../../lib/read/fetch-queue.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { bytesEqual, CountingClient, randomPage, writeLtx } from '../helpers/replica-builder.js';

/** A clock whose time moves only by {@link HandClock.advance}; sleeps end when their time comes. */
class HandClock implements FetchClock {
  ms = 0;
  #sleepers: { at: number; wake: () => void }[] = [];
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.#sleepers.push({ at: this.ms + ms, wake }));
  }
  /** Move time on by `ms` in steps of 1 ms, waking the sleeps due and letting what follows run. */
  async advance(ms: number): Promise<void> {
    for (let i = 0; i < ms; i++) {
      this.ms++;
      const due = this.#sleepers.filter((s) => s.at <= this.ms);
      this.#sleepers = this.#sleepers.filter((s) => s.at > this.ms);
      for (const s of due) s.wake();
      for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const PAGES = 300;
const pages = Array.from({ length: PAGES }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));

/** A reader of a 300-page snapshot (~1.2 MB, paged, verified in the background in 64 KiB ranges) on a hand clock. */
async function open(t: Test): Promise<{ reader: ReplicaReader; client: CountingClient; clock: HandClock }> {
  const dir = t.testdir();
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: PAGES, pages });
  const client = await CountingClient.open(dir);
  const clock = new HandClock();
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, wholeFileBytes: TAIL_BYTES, verifyRangeBytes: 64 * 1024, clock });
  t.teardown(() => reader.close());
  client.reset();
  return { reader, client, clock };
}

t.test('a verification started at open waits for the first query, however late it comes; then goes once the foreground is quiet', async (t) => {
  const { reader, client, clock } = await open(t);
  const verified = reader.verifyFiles(reader.current.files); // what serving page 1 from the head does
  verified.catch(() => undefined);
  await clock.advance(200); // the caller takes 200 ms to send its query: ten times the quiet time
  t.equal(client.reads.length, 0, 'no background read before the first query');
  const v = reader.acquire();
  const page = reader.readPage(v, 250);
  await clock.advance(1);
  t.equal(client.reads.length, 1, 'the query\'s page is the first read');
  const entry = reader.current.get(250)!;
  t.same([client.reads[0].offset, client.reads[0].length], [entry.file.entries.at(entry.entry)!.offset, entry.file.entries.at(entry.entry)!.size], 'exactly its frame');
  t.ok(bytesEqual(await page, pages[249].data));
  reader.release(v);
  await clock.advance(25); // the foreground quiet for the quiet time
  t.ok(client.reads.length > 1, `then the verification: ${client.reads.length - 1} read(s)`);
  t.equal(client.reads[1].offset, entry.file.entries.at(0)!.offset, 'from the file\'s first frame');
});

t.test('with no query, background reads start after the first-query delay', async (t) => {
  const { reader, client, clock } = await open(t);
  reader.verifyFiles(reader.current.files).catch(() => undefined);
  await clock.advance(240);
  t.equal(client.reads.length, 0, 'nothing before the delay (250 ms)');
  await clock.advance(30);
  t.ok(client.reads.length >= 1, 'the verification started after it');
});
