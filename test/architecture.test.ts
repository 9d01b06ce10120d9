/**
 * The dependency rules (issue 13 item 3), checked by dependency-cruiser over ltx/, lib/
 * and vfs/ (type-only imports included, `.d.ts` excluded):
 *
 * - no import cycles;
 * - `ltx/` (the codec) imports nothing of lib/ or vfs/;
 * - `lib/storage/` imports nothing outside lib/storage/ and ltx/;
 * - `vfs/` does not import lib/cli/;
 * - nothing in ltx/, lib/, vfs/ imports test/ or bench/;
 * - the target layering, arrows one way: cli → api → vfs → bridge → lib → ltx. Today
 *   "api" is lib/api/open.ts and lib/index.ts, "bridge" lib/bridge/, "cli" lib/cli/, and
 *   "lib" the rest of lib/ (lib/testing/ sits beside the api).
 *
 * The layering is not reached yet: {@link KNOWN} lists today's violations, each with
 * the change that removes it. A violation or cycle not in that list fails the test; the
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
/** lib/ below the bridge: everything but the api, cli, bridge and the testing entry. */
const LIB_CORE = '^lib/(?!(cli|bridge|testing|api|kysely|drizzle)/|index\\.ts$)';

const FORBIDDEN = [
  { name: 'no-cycle', from: {}, to: { circular: true } },
  { name: 'ltx-is-the-bottom', from: { path: '^ltx/' }, to: { path: '^(lib|vfs)/' } },
  { name: 'storage-knows-bytes-and-keys', from: { path: '^lib/storage/' }, to: { path: '^(lib|vfs)/', pathNot: '^lib/storage/' } },
  { name: 'vfs-not-cli', from: { path: VFS }, to: { path: CLI } },
  { name: 'no-test-or-bench', from: { path: '^(ltx|lib|vfs)/' }, to: { path: '^(test|bench)/' } },
  { name: 'lib-below-bridge', from: { path: LIB_CORE }, to: { path: `${VFS}|${BRIDGE}|${CLI}|${API}` } },
  { name: 'bridge-below-vfs', from: { path: BRIDGE }, to: { path: `${VFS}|${CLI}|${API}` } },
  { name: 'vfs-below-api', from: { path: VFS }, to: { path: `${CLI}|${API}` } },
  { name: 'api-below-cli', from: { path: API }, to: { path: CLI } },
].map((rule) => ({ severity: 'error' as const, ...rule }));

/**
 * Today's violations, `rule: from -> to` (a cycle: its modules from the alphabetically
 * first, joined by ` > `), and what removes each.
 */
const KNOWN: Record<string, string> = {
};

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
