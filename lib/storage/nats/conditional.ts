/**
 * The parts of a `nats` connection a nats:// client uses, and the one object store
 * operation the library has no conditional form of: delete-if-match. The library's
 * `ObjectStore.delete` writes a delete marker (the object's metadata with `deleted: true`)
 * on the object's metadata subject with `Nats-Rollup: sub`, then purges the chunks. Here
 * the same marker also carries `Nats-Expected-Last-Subject-Sequence: <revision>`, the
 * revision whose digest the caller compared, so the server refuses it (`err_code` 10071)
 * if anyone wrote the object since — JetStream's optimistic concurrency, as the library's
 * put uses for `previousRevision`. Subject and marker follow the object store layout the
 * Go and JS libraries share (ADR-20: `$O.<bucket>.M.<base64url name>`, `$O.<bucket>.C.<nuid>`).
 */
import type { JetStreamClient, JetStreamManager, MsgHdrs, NatsConnection, ObjectInfo, ObjectStore } from 'nats';

/** A connected client's handles (index.ts makes them; the `nats` types are only used here, never in public types). */
export interface NatsParts {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  os: ObjectStore;
  /** The library's `headers()`. */
  headers: () => MsgHdrs;
  /** The object store bucket. */
  bucket: string;
}

/** `$O.<bucket>.M.<name>`: the name as base64url with padding of its Latin-1 bytes (the JS library's `btoa`; keys are checked to fit). */
export function metaSubject(bucket: string, name: string): string {
  return `$O.${bucket}.M.${Buffer.from(name, 'latin1').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
}

/**
 * Write the delete marker of `info`'s object only over `info.revision`, then purge its chunks.
 * @throws the library's errors: a JetStream error with `err_code` 10071 when the object changed since `info`.
 */
export async function conditionalDelete(nats: NatsParts, name: string, info: ObjectInfo, timeoutMs: number): Promise<void> {
  const marker = {
    name,
    bucket: nats.bucket,
    nuid: info.nuid,
    description: info.description ?? '',
    options: info.options,
    mtime: info.mtime,
    size: 0,
    chunks: 0,
    digest: '',
    deleted: true,
  };
  const h = nats.headers();
  h.set('Nats-Rollup', 'sub');
  h.set('Nats-Expected-Last-Subject-Sequence', String(info.revision));
  await nats.js.publish(metaSubject(nats.bucket, name), new TextEncoder().encode(JSON.stringify(marker)), { headers: h, timeout: timeoutMs });
  await nats.jsm.streams.purge(`OBJ_${nats.bucket}`, { filter: `$O.${nats.bucket}.C.${info.nuid}` });
}
