/**
 * A {@link ReplicaClient} over another that also holds LTX files written in this process
 * but not yet in the store: the write-behind writer's staged commits (lib/write/write-behind.ts).
 * To everything above it, a staged file is in the replica: listings include it, and range
 * reads of it are served from the bytes held here. It leaves this client once its upload
 * succeeds, and reads of it then go to the store, which holds the same bytes.
 *
 * Without staged files it adds one `Map` lookup to a read; writes, deletes, other keys and
 * the capabilities are the inner client's.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from './types.js';

/** One staged LTX file: its listing entry and its bytes. */
interface Staged {
  info: LtxFileInfo;
  bytes: Uint8Array;
}

/** A replica client whose listings and reads include files staged in this process (module doc). */
export class StagingClient implements ReplicaClient {
  /** The store itself: listings other processes share must come from it, never from the staged files. */
  readonly inner: ReplicaClient;
  readonly #staged = new Map<string, Staged>();
  readonly listKeys?: (prefix: string, limit: number) => Promise<string[]>;
  readonly strays?: () => StrayEntry[];

  constructor(inner: ReplicaClient) {
    this.inner = inner;
    if (inner.listKeys !== undefined) this.listKeys = (prefix, limit) => inner.listKeys!(prefix, limit);
    if (inner.strays !== undefined) this.strays = () => inner.strays!();
  }

  get url(): string {
    return this.inner.url;
  }

  get capabilities(): ReplicaCapabilities {
    return this.inner.capabilities;
  }

  /** Files staged now. */
  get stagedCount(): number {
    return this.#staged.size;
  }

  /**
   * Hold `bytes` as the LTX file `info` names until {@link StagingClient.unstage}.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` when `info.key` is staged already or its size is not `bytes.length`.
   */
  stage(info: LtxFileInfo, bytes: Uint8Array): void {
    if (this.#staged.has(info.key) || info.size !== bytes.length) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${info.key}: cannot stage ${bytes.length} bytes as a file of ${info.size} (${this.url})`, { key: info.key });
    }
    this.#staged.set(info.key, { info, bytes });
  }

  /** Stop holding `key` (its upload succeeded: the store has it now). */
  unstage(key: string): void {
    this.#staged.delete(key);
  }

  /** The staged files of `level` with `minTXID >= seekTXID`, sorted by (minTXID, maxTXID). */
  staged(level: number, seekTXID = 0): LtxFileInfo[] {
    const out: LtxFileInfo[] = [];
    for (const { info } of this.#staged.values()) {
      if (info.level === level && info.minTXID >= seekTXID) out.push(info);
    }
    return out.sort(byRange);
  }

  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return this.inner.ltxKey(level, minTXID, maxTXID);
  }

  objectKey(name: string): string {
    return this.inner.objectKey(name);
  }

  /** The store's listing of `level` with the staged files of that level merged in (a staged key the store already lists appears once). */
  async listLtxFiles(level: number, options?: { seekTXID?: number; useMetadata?: boolean }): Promise<LtxFileInfo[]> {
    const listed = await this.inner.listLtxFiles(level, options);
    if (this.#staged.size === 0) return listed;
    return withStaged(listed, this.staged(level, options?.seekTXID ?? 0));
  }

  readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const staged = this.#staged.size === 0 ? undefined : this.#staged.get(key);
    if (staged === undefined) return this.inner.readRange(key, offset, length, into);
    const { bytes } = staged;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
      return Promise.reject(new LtxvfsError('LTXVFS_ERR_STORAGE',
        `${key}: range ${offset}+${length} is outside the staged file of ${bytes.length} bytes (${this.url})`, { key }));
    }
    const out = into === undefined ? new Uint8Array(length) : into.subarray(0, length);
    out.set(bytes.subarray(offset, offset + length));
    return Promise.resolve(out);
  }

  read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    const staged = this.#staged.size === 0 ? undefined : this.#staged.get(key);
    if (staged === undefined) return this.inner.read(key);
    return Promise.resolve({ data: staged.bytes.slice(), etag: '' });
  }

  write(key: string, data: Uint8Array, options?: WriteOptions): Promise<{ etag: string }> {
    return this.inner.write(key, data, options);
  }

  delete(key: string, options?: { ifMatch?: string }): Promise<void> {
    return this.inner.delete(key, options);
  }

  close(): Promise<void> {
    this.#staged.clear();
    return this.inner.close();
  }
}

/**
 * A listing with the staged files it lacks added, sorted by (minTXID, maxTXID); a staged key
 * the listing has (its upload landed) appears once, as listed.
 */
export function withStaged(listed: readonly LtxFileInfo[], staged: readonly LtxFileInfo[]): LtxFileInfo[] {
  if (staged.length === 0) return [...listed];
  const keys = new Set(listed.map((f) => f.key));
  return [...listed, ...staged.filter((f) => !keys.has(f.key))].sort(byRange);
}

function byRange(a: LtxFileInfo, b: LtxFileInfo): number {
  return a.minTXID - b.minTXID || a.maxTXID - b.maxTXID;
}
