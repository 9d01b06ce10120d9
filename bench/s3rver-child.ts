/**
 * s3rver in a process of its own (started by bench/s3-stack.ts), so that its per-request
 * work (~2 ms of CPU here) does not share an event loop with the fault proxy's latency
 * timers and the request log. Prints one JSON line `{ endpoint, bucket, directory }` once
 * it listens; closes (and removes its directory) when its stdin ends.
 */
import { startS3rver } from '../test/helpers/s3rver.js';

const bucket = process.argv[2] ?? 'ltxvfs-bench';
const s3 = await startS3rver({ bucket });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, bucket: s3.bucket, directory: s3.directory })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void s3.close().then(() => process.exit(0));
});
