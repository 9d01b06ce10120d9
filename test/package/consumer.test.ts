/**
 * The package as a consumer gets it: the sources staged into a temporary directory and
 * built there (`npm run build`: tsc and the embedded assets), `npm pack`ed, the tarball
 * installed into a new app (with TypeScript and @types/node, from npm's cache when it
 * has them), then
 * - the tarball's contents: dist, docs, README.md, LICENSE; no source maps, no install scripts;
 * - `tsc --strict`, module nodenext, no skipLibCheck, over test/package/consumer/app.ts
 *   (every public export of ltxvfs, ltxvfs/ltx and ltxvfs/testing) and app-cjs.cts;
 * - the app's replica made with the installed `ltxvfs/testing` from Chinook;
 * - `import` from an ES module and `require` from CommonJS, both engines, rows checked
 *   against the sqlite3 CLI over the same file; sql.js (an optional peer, not installed)
 *   fails with an error naming it and the install command;
 * - the app bundled with plain `esbuild --bundle --platform=node --format=esm` and run
 *   from a folder with no node_modules on the way up, with both engines.
 * Times (install, first query) are printed as comments, never asserted.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CHINOOK_DB, REPO_ROOT } from '../helpers/paths.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';

const require = createRequire(import.meta.url);
const CONSUMER = join(REPO_ROOT, 'test', 'package', 'consumer');
/**
 * What the package build reads: copied, so that the test never writes the checkout's dist/.
 * The lockfile too: with it `npx ltxvfs` runs the checkout's own bin, as in a clone (without
 * it npx may run a copy cached from an earlier install).
 */
const PACKAGE_SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'scripts', 'lib', 'ltx', 'vfs', 'docs'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment for child npm/node runs: the caller's, without the npm_* variables `npm test` sets for itself. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) || /^npm_config_cache$/i.test(k)) env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: childEnv(), maxBuffer: 64 << 20, timeout: 240_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    });
  });
}

function ok(t: Test, r: Run, what: string): void {
  t.equal(r.code, 0, what, { stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) });
}

function lastJson<T>(r: Run): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

/** Exported names of `export { … }` / `export type { … }` lists in a .d.ts. */
function exportedNames(dts: string): string[] {
  const names: string[] = [];
  for (const m of dts.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim();
      if (name) names.push(name);
    }
  }
  return names;
}

const root = mkdtempSync(join(tmpdir(), 'ltxvfs-consumer-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const stage = join(root, 'package');
const app = join(root, 'app');
const deploy = join(root, 'deploy');
const npm = 'npm';
const repoTypeScript = (require('typescript/package.json') as { version: string }).version;
const repoNodeTypes = (require('@types/node/package.json') as { version: string }).version;

let tarball = '';
let url = '';
let expected = 0;

t.test('npm run build and npm pack', async (t) => {
  mkdirSync(stage);
  for (const name of PACKAGE_SOURCES) cpSync(join(REPO_ROOT, name), join(stage, name), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
  ok(t, await run(npm, ['run', 'build'], stage), 'npm run build');
  // README's first command runs the checkout's own bin after the build (`npx ltxvfs demo`):
  // it must be executable there, not only where npm installs the package.
  const binMode = statSync(join(stage, 'dist', 'lib', 'cli', 'main.js')).mode & 0o777;
  t.equal(binMode, 0o755, `the built bin is executable (${binMode.toString(8)})`);
  const version = await run('npx', ['ltxvfs', '--version'], stage);
  ok(t, version, 'npx ltxvfs in the built checkout');
  t.equal(version.stdout.trim(), `ltxvfs ${(JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as { version: string }).version}`, 'the bin runs');
  const pack = await run(npm, ['pack', '--json', '--pack-destination', root], stage);
  ok(t, pack, 'npm pack');
  const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  tarball = join(root, info.filename);
  const files = info.files.map((f) => f.path);
  t.comment(`tarball ${(info.size / 1e6).toFixed(2)} MB, unpacked ${(info.unpackedSize / 1e6).toFixed(2)} MB, ${files.length} files`);
  for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'docs/deploy.md']) {
    t.ok(files.includes(f), `ships ${f}`);
  }
  t.same(files.filter((f) => f.endsWith('.map')), [], 'no source maps (their sources are not shipped)');
  t.same(files.filter((f) => !/^(dist|docs)\//.test(f) && !['LICENSE', 'README.md', 'package.json'].includes(f)), [], 'nothing beside dist, docs, README, LICENSE');
  const manifest = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
  };
  t.same(Object.keys(manifest.scripts).filter((s) => /^(pre|post)?(install|prepare|prepack|postpack)$/.test(s)), [], 'no install-time scripts');
  t.notOk('sql.js' in manifest.dependencies, 'sql.js is not a dependency');
  t.equal(manifest.peerDependenciesMeta['sql.js']?.optional, true, 'sql.js is an optional peer');
  const embedded = readFileSync(join(stage, 'dist', 'vfs', 'wasm', 'wa-sqlite-async-embedded.js'), 'utf8');
  t.match(embedded, /^\/\/ Generated by scripts\/build\.mjs: @journeyapps\/wa-sqlite@2\.0\.6\/dist\/wa-sqlite-async\.wasm/, 'the build embedded the wasm');
});

t.test('the tarball installs into a new app', async (t) => {
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  for (const f of readdirSync(CONSUMER)) cpSync(join(CONSUMER, f), join(app, f));
  const install = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `typescript@${repoTypeScript}`, `@types/node@${repoNodeTypes}`], app);
  ok(t, install, 'npm install');
  t.comment(`npm install (tarball, typescript, @types/node): ${(install.ms / 1000).toFixed(1)} s`);
  t.ok(existsSync(join(app, 'node_modules', 'ltxvfs', 'dist', 'lib', 'index.js')), 'ltxvfs installed');
  t.notOk(existsSync(join(app, 'node_modules', 'sql.js')), 'sql.js (optional peer) not installed');
});

t.test('tsc --strict over every public export, no skipLibCheck', async (t) => {
  const source = readFileSync(join(app, 'app.ts'), 'utf8');
  const pkg = join(app, 'node_modules', 'ltxvfs', 'dist');
  for (const entry of ['lib/index.d.ts', 'ltx/index.d.ts', 'lib/testing/index.d.ts']) {
    const names = exportedNames(readFileSync(join(pkg, entry), 'utf8'));
    t.ok(names.length > 0, `${entry} lists exports`);
    const missing = entry.startsWith('ltx/') ? [] : names.filter((n) => !new RegExp(`\\b${n}\\b`).test(source));
    t.same(missing, [], `app.ts uses every export of ${entry}`);
  }
  const config = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  t.equal(config.compilerOptions.skipLibCheck, false, 'skipLibCheck is off');
  const tsc = await run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app);
  ok(t, tsc, 'tsc -p . (strict, nodenext)');
});

t.test('ltxvfs/testing makes the replica; import from ESM and require from CJS read it', async (t) => {
  const db = join(root, 'chinook.db');
  cpSync(CHINOOK_DB, db);
  expected = Number((await sqliteQuery(db, 'SELECT count(*) AS n FROM Track'))[0].n);
  const made = await run(process.execPath, ['make-replica.mjs', db, join(root, 'replica')], app);
  ok(t, made, 'makeReplica from ltxvfs/testing');
  url = lastJson<{ url: string }>(made).url;
  const esm = await run(process.execPath, ['esm.mjs', url], app);
  ok(t, esm, 'node esm.mjs');
  const out = lastJson<{ asyncify: number; worker: number; sqljs: { code: string; message: string } }>(esm);
  t.equal(out.asyncify, expected, 'ESM, in-process engine: the rows sqlite3 sees');
  t.equal(out.worker, expected, 'ESM, worker engine');
  t.equal(out.sqljs.code, 'LTXVFS_ERR_USAGE', 'loadSqlJs without sql.js fails');
  t.match(out.sqljs.message, /sql\.js package is not installed.*npm install sql\.js/, 'naming the package and the install command');
  const cjs = await run(process.execPath, ['cjs.cjs', url], app);
  ok(t, cjs, 'node cjs.cjs');
  t.same(lastJson(cjs), { n: expected, errorClass: 'function', codec: 'function' }, 'require(ltxvfs) and require(ltxvfs/ltx)');
});

t.test('an esbuild bundle runs from a folder without node_modules', async (t) => {
  const esbuild = join(dirname(require.resolve('esbuild/package.json')), 'bin', 'esbuild');
  mkdirSync(deploy);
  const bundle = join(deploy, 'index.mjs');
  ok(t, await run(esbuild, ['bundle-entry.mjs', '--bundle', '--platform=node', '--format=esm', `--outfile=${bundle}`, '--log-level=error'], app), 'esbuild --bundle --platform=node --format=esm');
  t.same(readdirSync(deploy), ['index.mjs'], 'one file deployed');
  for (let dir = deploy; dir !== dirname(dir); dir = dirname(dir)) {
    t.notOk(existsSync(join(dir, 'node_modules')), `no node_modules in ${dir}`);
  }
  t.comment(`bundle ${(statSync(bundle).size / 1e6).toFixed(1)} MB`);
  for (const engine of ['asyncify', 'worker']) {
    const r = await run(process.execPath, [bundle, url, engine], deploy);
    ok(t, r, `node index.mjs (${engine})`);
    const out = lastJson<{ n: number; relativeN: number; firstQueryMs: number }>(r);
    t.equal(out.n, expected, `${engine}: the rows sqlite3 sees`);
    t.equal(out.relativeN, expected, `${engine}: PRAGMA litestream_time with a relative time (chrono-node bundled)`);
    t.comment(`${engine}: first row ${out.firstQueryMs} ms after process start`);
  }
});
