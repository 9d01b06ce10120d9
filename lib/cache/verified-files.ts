/**
 * The disk cache's record of verified LTX files: one small entry (magic 'LVV1',
 * lib/cache/disk-entry.ts) per file that matched its file checksum (docs/formats.md §2.4),
 * named by replica URL, key, size and the stored file checksum, its payload that
 * checksum. The verifier (lib/read/verifier.ts) asks it before reading a file to verify it, so
 * a file verified once is not read again after a restart; a file uploaded again under
 * the same key with other contents has another checksum and is verified again.
 */
import type { LtxFile } from '../replica/page-index.js';
import { checkedPayload, ENTRY_HEADER_SIZE, encodeEntry, payloadChecksum, readU64, verifiedIdentity, VERIFIED_MAGIC, type EntryName } from './disk-entry.js';
import type { DiskStore } from './disk-store.js';

export { markVerifiedWhole, wasVerifiedWhole } from '../replica/file-checks.js';

/** Verified-file entries in a {@link DiskStore}. */
export class VerifiedFiles {
  readonly #store: DiskStore;
  readonly #fileId: (file: LtxFile) => string;

  /**
   * @param store the cache directory.
   * @param fileId a file's identity (lib/cache/disk-entry.ts `fileIdentity`, memoized by the cache).
   */
  constructor(store: DiskStore, fileId: (file: LtxFile) => string) {
    this.#store = store;
    this.#fileId = fileId;
  }

  /**
   * Whether an entry says `file` (same key, size and stored file checksum) matched its
   * file checksum. Synchronous; a bad entry is deleted and counts as no. Never throws.
   */
  has(file: LtxFile): boolean {
    const name = this.#name(file);
    const buf = this.#store.read(name, ENTRY_HEADER_SIZE + name.identity.length + 8);
    if (buf === undefined) return false;
    let bad: string | undefined;
    const payload = checkedPayload(buf, VERIFIED_MAGIC, name.identity, 8);
    if (typeof payload === 'string') bad = payload;
    else if (readU64(payload, 0) !== file.trailer.fileChecksum) bad = 'checksum mismatch';
    if (bad !== undefined) {
      this.#store.reject(name, bad);
      return false;
    }
    this.#store.remember(name);
    return true;
  }

  /** Record that `file` matched its file checksum (in the background, as the store's other writes). */
  add(file: LtxFile): void {
    if (this.#store.closed) return;
    const name = this.#name(file);
    if (this.#store.knows(name)) return;
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setBigUint64(0, file.trailer.fileChecksum);
    this.#store.enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + payload.length,
      () => encodeEntry(VERIFIED_MAGIC, name.identity, 0, payload, payloadChecksum(payload)));
  }

  #name(file: LtxFile): EntryName {
    return this.#store.name('files', verifiedIdentity(this.#fileId(file)));
  }
}
