/**
 * `ltxvfs hydrate <url> <file>`: restore the replica's newest state into a local SQLite
 * file with hydration's large coalesced range reads (lib/hydrate/), with a progress bar;
 * an interrupted run resumes where it stopped when run again with the same file.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import { openReplicaClient } from '../storage/url.js';
import { ReplicaReader } from '../read/replica-reader.js';
import type { CliIO, Command, CommandValues } from './command.js';
import { formatBytes, plural } from './format.js';
import { Progress } from './progress.js';

function positiveInteger(values: CommandValues, name: string): number | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new LtxvfsError('LTXVFS_ERR_USAGE', `--${name} takes a positive whole number, got "${v}"`);
  return n;
}

/** The `hydrate` command (registered in lib/cli/commands.ts). */
export const hydrateCommand: Command = {
  synopsis: 'hydrate <url> <file> [--force] [--concurrency <n>] [--range-bytes <bytes>]',
  minArgs: 2,
  maxArgs: 2,
  options: { force: { type: 'boolean' }, concurrency: { type: 'string' }, 'range-bytes': { type: 'string' } },
  async run([url, file], values, io: CliIO) {
    const client = await openReplicaClient(url === '' ? undefined : url, { env: io.env });
    // One state to restore: no polling, and pages come from the hydration's own reads. No
    // query will come: the verification's reads of what the hydration did not feed it (the
    // index and trailer) need not wait for one (250 ms by default).
    const reader = await ReplicaReader.open(client, {
      pollIntervalMs: 0,
      cacheSizeBytes: 0,
      warmupDelayMs: 0,
      hydrate: file,
      hydrateOptions: {
        overwrite: values.force === true,
        concurrency: positiveInteger(values, 'concurrency'),
        rangeBytes: positiveInteger(values, 'range-bytes'),
        retryMs: 0,
      },
    }).catch(async (err: unknown) => {
      await client.close();
      throw err;
    });
    const hydration = reader.hydration!;
    const progress = new Progress(io.stderr, 'hydrate', 'pages');
    const timer = setInterval(() => {
      const s = hydration.stats();
      if (s.pagesTotal > 0) progress.update(s.pagesDone, s.pagesTotal);
    }, 100);
    const started = performance.now();
    try {
      const txid = await hydration.whenReady();
      await hydration.settled();
      // Exit 0 only once every file hydrated from matched its checksum: the pass fed the
      // verification the frames it decoded, so what is read here is what it did not decode
      // (a file's index and trailer; lib/read/verifier.ts `feedFrom`).
      await reader.verifyFiles(reader.current.files);
      progress.stop();
      const s = hydration.stats();
      const seconds = (performance.now() - started) / 1000;
      const resumed = s.pagesResumed > 0 ? `, resumed: ${s.pagesResumed} pages were written by an earlier run` : '';
      io.stdout.write(`hydrated TXID ${formatTXID(txid)} into ${file}: ${reader.current.commit} pages of ${reader.current.pageSize} bytes; ` +
        `read ${formatBytes(s.bytesRead)} in ${plural(s.readRequests, 'request')}, ${seconds.toFixed(1)} s${resumed}\n`);
    } finally {
      clearInterval(timer);
      progress.stop();
      await reader.close();
    }
    return 0;
  },
};
