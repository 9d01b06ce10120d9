/**
 * Media GETs of the gs:// client: an object's bytes through the JSON API
 * (`alt=media`, the vendor's `createReadStream`), whole or one range (`Range:
 * bytes=start-end`), collected within the request deadline. A server that ignores the
 * range answers 200 with the whole object, which is cut to the range here; one starting
 * past the end answers 416, which the caller reads as a short read. The vendor's
 * validation and decompression are off: the bytes are checked by their LTX checksums.
 */
import type { File } from '@google-cloud/storage';

/** The deadline and lifetime of a media GET, and where its byte count goes. */
export interface MediaLimits {
  /** Deadline of the whole GET, headers and body, ms. */
  timeoutMs: number;
  /** Aborted when the client closes; the GET is then destroyed with its reason. */
  closing: AbortSignal;
  /** Called with the body bytes received (the whole object when a 200 is cut to the range). */
  received: (bytes: number) => void;
}

/**
 * One media GET of `file` (`Range` when `length` is given) within `limits.timeoutMs`.
 * @returns the body: `length` bytes from `offset` at most (fewer when the object ends first), or the whole object.
 * @throws the vendor's error (an `ApiError` with the HTTP status, a network error), an
 *   Error of `type` 'request-timeout' at the deadline ("no complete answer within <n> ms"),
 *   or `limits.closing.reason` when the client closes.
 */
export function mediaGet(file: File, offset: number, length: number | undefined, limits: MediaLimits): Promise<Buffer> {
  const range = length === undefined ? {} : { start: offset, end: offset + length - 1 };
  return new Promise<Buffer>((resolve, reject) => {
    const stream = file.createReadStream({ ...range, validation: false, decompress: false });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    const timer = setTimeout(() => {
      stream.destroy(Object.assign(new Error(`no complete answer within ${limits.timeoutMs} ms`), { type: 'request-timeout' }));
    }, limits.timeoutMs);
    const onAbort = () => stream.destroy(limits.closing.reason as Error);
    limits.closing.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      limits.closing.removeEventListener('abort', onAbort);
    };
    stream.on('response', (res: { statusCode?: number }) => (status = res.statusCode));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => {
      done();
      reject(err);
    });
    stream.on('end', () => {
      done();
      const body = Buffer.concat(chunks);
      limits.received(body.length);
      resolve(length !== undefined && status === 200 ? body.subarray(offset, offset + length) : body);
    });
  });
}
