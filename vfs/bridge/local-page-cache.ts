/**
 * The page cache of the thread that runs SQLite, in front of the page bridge: a hit
 * never crosses threads. Keyed by page number, so it holds pages of one version at a
 * time; the bridge client drops the pages that differ whenever its connection moves to
 * another version (lib/bridge/version-diff.ts), and everything when it cannot tell.
 *
 * An exact LRU bounded in bytes: a `Map` from page number to an entry, and the entries in
 * a doubly linked list, most recently used first. A hit moves its entry to the front (a
 * `Map.get` and six pointer writes, no change to the `Map`). Deleting and re-adding the
 * key instead, the usual `Map` LRU, leaves a dead entry in the V8 table at every hit
 * until the table is rebuilt: with ~10,000 pages cached, hot-set lookups in autocommit
 * (page 1 read at every transaction) ran at 24,000/s that way against 84,000/s with the
 * list (measured, sql.js adapter).
 *
 * It holds every page of a working set up to its whole budget. Until 2026-12-07 it was a
 * two-generation scheme (quick-lru's), which holds between half and all of its budget,
 * so a working set above half the budget missed again and again. 10,000
 * uniform lookups over a 200 MiB table (~40 MiB of pages) repeated in one read
 * transaction with the default 64 MiB: 909 misses a round, each a bridge round trip
 * (44–61 ms of a 100–130 ms round), against 0 with the exact LRU (docs/bench.md, seventh
 * run).
 */
export class LocalPageCache {
  readonly #maxBytes: number;
  #entries = new Map<number, Entry>();
  /** The most recently used entry (the list's head), or undefined when empty. */
  #head: Entry | undefined;
  /** The least recently used entry (the list's tail). */
  #tail: Entry | undefined;
  #bytes = 0;
  /** Reads served. */
  hits = 0;
  /** Reads not found. */
  misses = 0;

  /** @param maxBytes the budget in bytes (0 disables the cache). */
  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, Math.floor(maxBytes));
  }

  /** Bytes of pages held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Pages held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The page, if cached (the caller must not modify it); a hit makes it the most recently used. */
  get(pgno: number): Uint8Array | undefined {
    const entry = this.#entries.get(pgno);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (entry !== this.#head) {
      this.#unlink(entry);
      this.#pushFront(entry);
    }
    return entry.page;
  }

  /** Keep `page` (owned by the cache from now on) as page `pgno`, dropping the least recently used pages past the budget. */
  set(pgno: number, page: Uint8Array): void {
    this.delete(pgno); // even when `page` is not kept: the old contents are stale
    if (page.length > this.#maxBytes) return;
    const entry: Entry = { pgno, page, prev: undefined, next: undefined };
    this.#entries.set(pgno, entry);
    this.#pushFront(entry);
    this.#bytes += page.length;
    while (this.#bytes > this.#maxBytes && this.#tail !== undefined) this.#drop(this.#tail);
  }

  /** Drop page `pgno`. */
  delete(pgno: number): void {
    const entry = this.#entries.get(pgno);
    if (entry !== undefined) this.#drop(entry);
  }

  /** Drop every page. */
  clear(): void {
    this.#entries = new Map();
    this.#head = undefined;
    this.#tail = undefined;
    this.#bytes = 0;
  }

  #drop(entry: Entry): void {
    this.#entries.delete(entry.pgno);
    this.#unlink(entry);
    this.#bytes -= entry.page.length;
  }

  #unlink(entry: Entry): void {
    if (entry.prev === undefined) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  #pushFront(entry: Entry): void {
    entry.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = entry;
    this.#head = entry;
    this.#tail ??= entry;
  }
}

/** A cached page in the recency list. */
interface Entry {
  readonly pgno: number;
  readonly page: Uint8Array;
  prev: Entry | undefined;
  next: Entry | undefined;
}
