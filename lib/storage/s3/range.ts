/**
 * What a ranged GET's response means (`S3ReplicaClient.readRange`): exactly the bytes
 * asked for, a short read (the object ends before them: permanent), or a body shorter
 * than announced (transient: retried). Servers that ignore `Range` (200 with the whole
 * object) or send more than asked from the right offset are read leniently.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import { TransientError } from '../retry.js';
import { httpError } from './errors.js';
import type { HttpResponse } from './http.js';

/**
 * The `length` bytes at `offset` of `key` in `res`.
 * @param where `s3://bucket/key`, for messages.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` ("short read", a Content-Range at another offset),
 *   the HTTP error of any other status; {@link TransientError} for a body shorter than announced.
 */
export function rangeBody(res: HttpResponse, bucket: string, key: string, where: string, offset: number, length: number): Uint8Array {
  const last = offset + length - 1;
  const shortRead = (got: number, size: number | undefined) =>
    new LtxvfsError(
      'LTXVFS_ERR_STORAGE',
      `short read of ${where}: got ${got} of ${length} bytes at offset ${offset}${size === undefined ? '' : ` (object is ${size} bytes)`}`,
      { key, status: res.status },
    );
  if (res.status === 200) {
    // A server that ignores Range sends the whole object.
    if (res.body.length >= offset + length) return res.body.slice(offset, offset + length);
    throw shortRead(Math.max(0, res.body.length - offset), res.body.length);
  }
  if (res.status === 416) throw shortRead(0, contentRangeTotal(res.headers['content-range']));
  if (res.status !== 206) throw httpError(bucket, 'get', key, res);
  const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
  if (cr !== null && Number(cr[1]) !== offset) {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `get ${where}: asked for bytes ${offset}-${last}, got Content-Range ${cr[0]}`, {
      key,
      status: 206,
    });
  }
  if (res.body.length === length) return res.body;
  // More than asked, from the right offset (a lenient server): the bytes asked for are its start.
  if (res.body.length > length) return res.body.subarray(0, length);
  const end = cr === null ? undefined : Number(cr[2]);
  if (end !== undefined && end < last && res.body.length === end - offset + 1) {
    throw shortRead(res.body.length, cr?.[3] === '*' ? undefined : Number(cr?.[3]));
  }
  throw new TransientError(
    new LtxvfsError('LTXVFS_ERR_STORAGE', `get ${where}: body has ${res.body.length} of ${length} bytes at offset ${offset}`, {
      key,
      status: 206,
    }),
  );
}

function contentRangeTotal(cr: string | undefined): number | undefined {
  const m = /\/(\d+)$/.exec(cr ?? '');
  return m === null ? undefined : Number(m[1]);
}
