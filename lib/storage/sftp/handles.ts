/**
 * The sftp:// client's kept read handles: one OPEN handle per LTX file, reused for every
 * ranged READ of it, since LTX files are immutable under their name (docs/formats.md §4.1)
 * — so a cold page costs one READ round trip after the first. At most `maxOpenFiles` are
 * kept, least recently used closed first; a handle belongs to the connection (link) that
 * opened it and is opened again on a new one after a reconnect.
 */
import * as ops from './ops.js';
import type { SftpLink } from './connection.js';

/** An open handle and the link it belongs to. */
interface Held {
  link: SftpLink;
  handle: Buffer;
}

/** Read handles by key, in use order (oldest first). */
export class ReadHandles {
  private readonly handles = new Map<string, Promise<Held>>();

  /** @param maxOpenFiles handles kept at most (the `maxOpenFiles` option of `openSftpReplica`). */
  constructor(private readonly maxOpenFiles: number) {}

  /**
   * A handle of the file `p` (the key's server path) on `link`: the kept one, or a new OPEN
   * (READ) that is kept, closing the least recently used beyond the bound.
   * @throws the OPEN's SFTP status error (ops.ts), unchanged; a failed OPEN is not kept.
   */
  async of(link: SftpLink, key: string, p: string): Promise<Buffer> {
    let entry = this.handles.get(key);
    if (entry !== undefined) {
      const held = await entry.catch(() => undefined);
      if (held === undefined || held.link !== link || !link.alive) {
        if (this.handles.get(key) === entry) this.handles.delete(key);
        entry = undefined;
      }
    }
    if (entry === undefined) {
      const opened = ops.open(link.sftp, p, ops.OPEN.READ).then((handle) => ({ link, handle }));
      entry = opened;
      this.handles.set(key, opened);
      opened.catch(() => this.handles.get(key) === opened && this.handles.delete(key));
      while (this.handles.size > this.maxOpenFiles) this.forget(this.handles.keys().next().value as string);
    } else {
      this.handles.delete(key);
      this.handles.set(key, entry);
    }
    return (await entry).handle;
  }

  /** Drop the kept handle of `key`, if any (CLOSE in the background, when its link is alive). */
  forget(key: string): void {
    const entry = this.handles.get(key);
    if (entry === undefined) return;
    this.handles.delete(key);
    void entry.then(({ link, handle }) => (link.alive ? ops.close(link.sftp, handle) : undefined)).catch(() => undefined);
  }

  /** Forget every handle without closing them (the connection is ending). */
  clear(): void {
    this.handles.clear();
  }
}
