/**
 * The replace guard of a lease on a directory (lib/write/lease.ts module doc): a
 * `FileReplicaClient`'s create-only write is atomic (`link`), but its if-match replace and
 * delete compare the ETag and then rename/unlink, so two processes could both pass the
 * comparison. Every replace and delete of `lock.json` therefore first takes the
 * create-only guard object `lock.json.replace` (holder and expiry inside, removed
 * afterwards; one left by a crashed process is cleared once it expires), which makes the
 * comparison and the rename one step for everyone who follows this protocol.
 */
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient } from '../storage/types.js';
import { decodeLeaseRecord, encodeLeaseRecord } from './lease-record.js';
import type { LeaseSettings } from './lease-options.js';

/**
 * Run `fn` (a replace or delete of `key`) while holding the create-only guard
 * `<key>.replace` when `settings.guard` (module doc).
 * @throws LtxvfsError `LTXVFS_ERR_CONFLICT` (key = the guard's) while another holder's guard is live; errors of `fn` and of the client. A guard that is held and not expired
 * makes this fail with `LTXVFS_ERR_CONFLICT`; an expired one (its holder died) is removed first.
 */
export async function guarded<T>(client: ReplicaClient, key: string, settings: LeaseSettings, fn: () => Promise<T>): Promise<T> {
  if (!settings.guard) return fn();
  const guardKey = `${key}.replace`;
  const body = encodeLeaseRecord({ generation: 1, expiresAtMs: settings.now() + settings.ttlMs, owner: settings.owner });
  let etag: string | undefined;
  for (let attempt = 0; etag === undefined; attempt++) {
    try {
      ({ etag } = await client.write(guardKey, body, { ifNoneMatch: true, contentType: 'application/json' }));
    } catch (err) {
      if (!isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) throw err;
      const held = await client.read(guardKey).catch((e: unknown) => {
        if (isLtxvfsError(e, 'LTXVFS_ERR_NOT_FOUND')) return undefined;
        throw e;
      });
      const record = held === undefined ? undefined : decodeLeaseRecord(held.data, guardKey);
      if (attempt > 0 || (record !== undefined && settings.now() <= record.expiresAtMs)) {
        throw new LtxvfsError('LTXVFS_ERR_CONFLICT', `${key} is being replaced by ${record?.owner ?? 'another writer'} (guard ${guardKey})`, {
          key: guardKey,
          cause: err,
        });
      }
      if (held !== undefined) await client.delete(guardKey, { ifMatch: held.etag }).catch(() => undefined);
    }
  }
  try {
    return await fn();
  } finally {
    await client.delete(guardKey, { ifMatch: etag }).catch(() => undefined);
  }
}
