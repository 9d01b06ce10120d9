/**
 * The dependency rules (issue 13 item 3), checked by dependency-cruiser over ltx/, lib/
 * and vfs/ (type-only imports included, `.d.ts` excluded). The layering, arrows one way:
 *
 * ```
 * cli (lib/cli) → api (lib/api, lib/index.ts) → vfs/ → bridge (lib/bridge) → lib → ltx/
 * ```
 *
 * and inside "lib", from the top: connection (`connectReplica`) → read, write, hydrate,
 * tools → cache → replica → storage → ltx/. lib/sql (the async API over one SQLite
 * connection) is replica-independent: it imports nothing of the replica side. The rules:
 *
 * - no import cycles;
 * - `ltx/` (the codec) imports nothing of lib/ or vfs/;
 * - `lib/storage/` imports nothing outside lib/storage/ and ltx/, and a backend folder
 *   (`lib/storage/<scheme>/`) nothing of another backend but its entry (`index.ts`, for
 *   dialects such as oss:// over the S3 client): what backends share lives in
 *   lib/storage/ itself (types, url, retry, strays, rfc3339, etag);
 * - `lib/replica/` (plans, page index, loader) imports nothing of read, write, connection,
 *   tools, cache, hydrate, sql or anything above;
 * - `lib/cache/` nothing of read, write, connection, tools, hydrate, sql;
 * - `lib/read/` nothing of write, connection, tools, sql, api;
 * - `lib/write/` nothing of connection, tools, hydrate, sql, api;
 * - `lib/sql/` nothing of read, write, replica, storage, cache, hydrate, connection, tools;
 * - `lib/tools/` nothing of connection, sql, api, cli;
 * - nothing in ltx/, lib/, vfs/ imports test/ or bench/;
 * - the layering above: "lib" below the bridge is everything in lib/ but the api, cli,
 *   bridge and the entries beside the api (lib/testing, lib/kysely, lib/drizzle).
 *
 * {@link KNOWN} lists violations allowed for now, each with the change that removes it
 * (the goal is an empty list). A violation or cycle not in that list fails the test; the
 * known ones still present are printed as comments, and so are entries that no longer
 * occur (delete them from the list).
 */
import t from 'tap';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import { REPO_ROOT } from './helpers/paths.js';

const API = '^lib/(api/|index\\.ts$)';
const CLI = '^lib/cli/';
const BRIDGE = '^lib/bridge/';
const VFS = '^vfs/';
/** A path pattern for the lib/ folders named by `names` (`a|b|c`). */
function libAreas(names: string): string {
  return `^lib/(${names})/`;
}

/** lib/ below the bridge: everything but the api, cli, bridge and the entries beside the api. */
const LIB_CORE = '^lib/(?!(cli|bridge|testing|api|kysely|drizzle)/|index\\.ts$)';

const FORBIDDEN = [
  { name: 'no-cycle', from: {}, to: { circular: true } },
  { name: 'ltx-is-the-bottom', from: { path: '^ltx/' }, to: { path: '^(lib|vfs)/' } },
  { name: 'storage-knows-bytes-and-keys', from: { path: '^lib/storage/' }, to: { path: '^(lib|vfs)/', pathNot: '^lib/storage/' } },
  {
    name: 'backends-stand-alone',
    from: { path: '^lib/storage/([^/]+)/' },
    to: { path: '^lib/storage/[^/]+/', pathNot: '^lib/storage/($1/|[^/]+/index\\.ts$)' },
  },
  { name: 'replica-below-read', from: { path: '^lib/replica/' }, to: { path: libAreas('read|write|connection|tools|cache|hydrate|sql') } },
  { name: 'cache-below-read', from: { path: '^lib/cache/' }, to: { path: libAreas('read|write|connection|tools|hydrate|sql') } },
  { name: 'read-not-write', from: { path: '^lib/read/' }, to: { path: `${libAreas('write|connection|tools|sql')}|${API}` } },
  { name: 'write-below-connection', from: { path: '^lib/write/' }, to: { path: `${libAreas('connection|tools|hydrate|sql')}|${API}` } },
  {
    name: 'sql-is-replica-independent',
    from: { path: '^lib/sql/' },
    to: { path: libAreas('read|write|replica|storage|cache|hydrate|connection|tools') },
  },
  { name: 'tools-below-api', from: { path: '^lib/tools/' }, to: { path: `${libAreas('connection|sql')}|${API}|${CLI}` } },
  { name: 'vfs-not-cli', from: { path: VFS }, to: { path: CLI } },
  { name: 'no-test-or-bench', from: { path: '^(ltx|lib|vfs)/' }, to: { path: '^(test|bench)/' } },
  { name: 'lib-below-bridge', from: { path: LIB_CORE }, to: { path: `${VFS}|${BRIDGE}|${CLI}|${API}` } },
  { name: 'bridge-below-vfs', from: { path: BRIDGE }, to: { path: `${VFS}|${CLI}|${API}` } },
  { name: 'vfs-below-api', from: { path: VFS }, to: { path: `${CLI}|${API}` } },
  { name: 'api-below-cli', from: { path: API }, to: { path: CLI } },
].map((rule) => ({ severity: 'error' as const, ...rule }));

/**
 * Known violations, `rule: from -> to` (a cycle: its modules from the alphabetically
 * first, joined by ` > `), each with the change that removes it. Empty: the layout holds
 * every rule above. A change that breaks one fixes it, or lists it here with its way out.
 */
const KNOWN: Record<string, string> = {};

/** `rule: from -> to`, or for a cycle `no-cycle: a > b > …` rotated to start at its smallest module. */
function keyOf(v: IViolation): string {
  if (v.cycle !== undefined && v.cycle.length > 0) {
    const names = v.cycle.map((c) => (typeof c === 'string' ? c : c.name));
    const ring = names.includes(v.from) ? names : [v.from, ...names];
    const unique = ring.filter((n, i) => ring.indexOf(n) === i);
    const start = unique.indexOf([...unique].sort()[0]);
    return `${v.rule.name}: ${[...unique.slice(start), ...unique.slice(0, start)].join(' > ')}`;
  }
  return `${v.rule.name}: ${v.from} -> ${v.to}`;
}

/** The violations of `FORBIDDEN` in the repository, as keys. */
export async function violations(ruleSet = FORBIDDEN): Promise<string[]> {
  const result = await cruise(['ltx', 'lib', 'vfs'], {
    baseDir: REPO_ROOT,
    validate: true,
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    ruleSet: { forbidden: ruleSet },
  });
  const output = result.output as ICruiseResult;
  return [...new Set(output.summary.violations.map(keyOf))].sort();
}

t.test('dependency rules: no new cycle, no new upward arrow', async (t) => {
  const found = await violations();
  const known = found.filter((k) => k in KNOWN);
  for (const k of known) t.comment(`known: ${k} (removed by: ${KNOWN[k]})`);
  for (const k of Object.keys(KNOWN).filter((k) => !found.includes(k))) t.comment(`no longer occurs, delete from KNOWN: ${k}`);
  t.same(found.filter((k) => !(k in KNOWN)), [], 'violations not in the known list');
});
