/**
 * The webdav:// and webdavs:// backend (issue 16): a Litestream v0.5 replica in a WebDAV
 * collection, read with the vendor's client (npm `webdav`, an optional peer dependency
 * loaded only here: vendor.ts). The URL is the one Litestream takes,
 * `webdav[s]://[USER[:PASSWORD]@]HOST[:PORT]/PATH` (no parameters, no environment), and
 * the files are where Litestream's webdav client puts them: `PATH/ltx/<level>/…` under
 * `http[s]://HOST[:PORT]/` (client.ts).
 *
 * Time travel: WebDAV keeps one time per file, `getlastmodified`, which the server sets
 * at the upload and reports in whole seconds (RFC 1123 dates); Litestream uses it as the
 * file's creation time (it cannot store the LTX header timestamp there), and so does
 * ltxvfs. `PRAGMA litestream_time = T` therefore sees every file uploaded up to the end of
 * T's second as created at its start — files uploaded later in the same second included —
 * and a file counts from its upload, not from its commit. Litestream's own reader has the
 * same limit. Files written by ltxvfs get the upload time too (`write`'s `timestamp` is
 * checked and otherwise unused).
 *
 * What a page miss costs: one ranged GET (plus, for the first page of an LTX file not
 * read before, the fetcher's index read); listings are one PROPFIND per level and poll.
 * No conditional writes and no write lease (client.ts says why and what would make them
 * safe): `exec`/`autoLease` on a webdav:// replica fail with `LTXVFS_ERR_UNSUPPORTED`
 * naming it. Retries and timeouts: transport.ts; TLS trust: config.ts.
 */
import type { ReplicaUrl } from '../replica-url.js';
import { WebdavReplicaClient } from './client.js';
import { webdavConfig, type WebdavReplicaOptions } from './config.js';
import { connectDav } from './vendor.js';

export { WebdavReplicaClient, WEBDAV_CAPABILITIES } from './client.js';
export type { WebdavReplicaOptions } from './config.js';
export type { WebdavClientStats } from './transport.js';

/**
 * Open a webdav:// or webdavs:// replica. Nothing is sent yet: a wrong password, a
 * missing collection or an unreachable server show at the first request (`openDatabase`
 * lists at once).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when the optional package `webdav` is not
 *   installed (naming it and `npm install webdav`), for a bad option (naming it), or an
 *   unreadable `NODE_EXTRA_CA_CERTS` file (naming the file).
 */
export async function openWebdavReplica(url: Extract<ReplicaUrl, { scheme: 'webdav' }>, options: WebdavReplicaOptions = {}): Promise<WebdavReplicaClient> {
  const config = webdavConfig(url, options);
  const dav = await connectDav({ origin: config.origin, user: config.user, password: config.password, agent: config.agent });
  return new WebdavReplicaClient(config, dav);
}
