/**
 * The measurements shared by the two engines driven through the sqlite3 CLI (native
 * SQLite on the local file, the Litestream VFS on the replica): the same steps as the
 * ltxvfs runner, on one long-lived {@link CliSession}, where "a fresh instance" is a
 * `.open` of the database again (a new connection: SQLite's page cache, and the
 * Litestream VFS's 10 MiB page cache, start empty; the OS file cache stays warm).
 */
import type { CliSession } from './cli-session.js';
import { median, medianOf } from './table.js';
import { RANGE_ROWS, SQL, inStatementSql, inline, type EngineResult, type Measured, type Workload } from './workload.js';

/** The CLI-engine-specific parts. */
export interface CliEngine {
  title: string;
  session: CliSession;
  /** The dot-command that opens a new connection to the database. */
  openCommand: string;
}

/** Run the workload on `engine.session`; no storage counters (the caller may add them). */
export async function measureCliEngine(engine: CliEngine, w: Workload, log: (msg: string) => void): Promise<EngineResult> {
  const s = engine.session;
  const startRssBytes = s.peakRssBytes();
  const openSql = `${engine.openCommand}\n${SQL.schema};`;
  const firstOpen: Measured = { ms: (await s.time(openSql)).ms };
  const firstLookup: Measured = { ms: (await s.time(inline(SQL.point, [w.coldIds[0]]))).ms };

  const open: Measured[] = [];
  const coldPoint: Measured[] = [];
  const coldIndex: Measured[] = [];
  const coldRange: Measured[] = [];
  for (let i = 0; i < w.coldSamples; i++) {
    open.push({ ms: (await s.time(openSql)).ms });
    coldPoint.push({ ms: (await s.time(inline(SQL.point, [w.coldIds[i]]))).ms });
    await s.run(openSql);
    coldIndex.push({ ms: (await s.time(inline(SQL.byIndex, [w.coldKs[i]]))).ms });
    await s.run(openSql);
    coldRange.push({ ms: (await s.time(inline(SQL.range, [w.rangeStarts[i], w.rangeStarts[i] + RANGE_ROWS - 1]))).ms });
  }
  log(`${engine.title}: cold lookups done`);

  await s.run(openSql);
  const statements = (ids: readonly number[]): string => ids.map((id) => `${inline(SQL.point, [id])};`).join('\n');
  await s.run(statements(w.warmupIds));
  const inSql = inStatementSql(w.inStatementLookups, w.rows);
  await s.run(inSql);
  const perStatement: number[] = [];
  const inStatement: number[] = [];
  for (let r = 0; r < w.cliWarmRounds; r++) {
    perStatement.push(w.warmIds.length / ((await s.time(statements(w.warmIds))).ms / 1000));
    inStatement.push(w.inStatementLookups / ((await s.time(inSql)).ms / 1000));
  }
  const warmPointPerSec = median(perStatement);
  const inStatementPerSec = median(inStatement);
  log(`${engine.title}: warm lookups ${Math.round(warmPointPerSec)}/s per statement, ${Math.round(inStatementPerSec)}/s in one statement`);

  const coldScan: Measured[] = [];
  const warmScan: Measured[] = [];
  let scanResult = '';
  for (let i = 0; i < w.scanSamples; i++) {
    await s.run(openSql);
    const c = await s.time(`${SQL.scan};`);
    coldScan.push({ ms: c.ms });
    scanResult = c.output.trim();
    warmScan.push({ ms: (await s.time(`${SQL.scan};`)).ms });
    log(`${engine.title}: scan ${i + 1}/${w.scanSamples}: cold ${Math.round(c.ms)} ms, again ${Math.round(warmScan[i].ms)} ms`);
  }
  return {
    title: engine.title,
    firstOpen,
    firstLookup,
    open: medianOf(open),
    coldPoint: medianOf(coldPoint),
    coldIndex: medianOf(coldIndex),
    coldRange: medianOf(coldRange),
    warmPointPerSec,
    inStatementPerSec,
    coldScan: medianOf(coldScan),
    warmScan: medianOf(warmScan),
    peakRssBytes: s.peakRssBytes(),
    startRssBytes,
    scanResult,
    notes: [],
  };
}
