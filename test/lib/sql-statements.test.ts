/**
 * splitStatements / findTransactionControl (lib/sql/statements.ts), SQLite's
 * sqlite3_complete() state machine: statement boundaries as SQLite runs a script, the
 * `;` inside a trigger body, strings, quoted identifiers and comments.
 */
import t from 'tap';
import { findTransactionControl, splitStatements } from '../../lib/sql/statements.js';
import { rejectsLtx } from '../helpers/replica-builder.js';

const words = (sql: string) => splitStatements(sql).map((s) => s.firstWord);

t.test('statements split at the semicolons SQLite splits at', async (t) => {
  t.same(splitStatements("INSERT INTO a VALUES (1);  select 2 ;\n"), [
    { text: 'INSERT INTO a VALUES (1)', firstWord: 'INSERT', index: 1 },
    { text: 'select 2', firstWord: 'SELECT', index: 2 },
  ]);
  t.same(words("SELECT 'a;b', \"c;d\", `e;f`, [g;h]; -- x; y\nSELECT /* ; */ 1"), ['SELECT', 'SELECT'], 'quotes and comments hide semicolons');
  t.same(words("SELECT 'it''s; fine'; SELECT \"a\"\"b;\""), ['SELECT', 'SELECT'], 'doubled quotes are escapes');
  t.same(words(';;  ; -- only a comment\n/* and another */'), [], 'empty statements are left out');
  t.same(words('(SELECT 1); 42; x\'00\''), ['', '', 'X'], 'a statement not starting with a word has no first word');
});

t.test('a trigger body is one statement with its CREATE TRIGGER, whatever it contains', async (t) => {
  const sql = `CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN
    INSERT INTO log VALUES (new.id); UPDATE t SET n = CASE WHEN n > 0 THEN 1 END; END;
    INSERT INTO t VALUES (1);
    CREATE TRIGGER tr2 BEFORE DELETE ON t BEGIN SELECT 1; end ;
    EXPLAIN COMMIT`;
  t.same(words(sql), ['CREATE', 'INSERT', 'CREATE', 'EXPLAIN']);
  t.equal(findTransactionControl(sql), undefined, 'END of a trigger, EXPLAIN COMMIT: not transaction control');
});

t.test('transaction control is found by its first word, in any case, after comments', async (t) => {
  for (const [sql, text] of [
    ['BEGIN', 'BEGIN'], ['begin immediate', 'begin immediate'], ['SELECT 1; Commit Transaction', 'Commit Transaction'],
    ['SELECT 1; -- c\nEND', '-- c\nEND'], ['ROLLBACK TO s', 'ROLLBACK TO s'], ['SAVEPOINT "x"', 'SAVEPOINT "x"'], ['RELEASE x', 'RELEASE x'],
  ]) {
    t.equal(findTransactionControl(sql)?.text, text, sql);
  }
  t.equal(findTransactionControl("SELECT 'BEGIN'; SELECT \"commit\" FROM t; CREATE TABLE savepoint_log (x)"), undefined, 'words elsewhere do not count');
});

t.test('an unterminated comment, string or quoted identifier is a usage error naming the statement', async (t) => {
  await rejectsLtx(t, async () => splitStatements('SELECT 1; SELECT 2 /* open'), 'LTXVFS_ERR_USAGE', 'statement 2 (SELECT 2 /* open) has a /* comment that is never closed');
  await rejectsLtx(t, async () => splitStatements("SELECT 'x"), 'LTXVFS_ERR_USAGE', "statement 1 (SELECT 'x) has a 'quoted' string or identifier that is never closed");
  await rejectsLtx(t, async () => splitStatements('SELECT [x'), 'LTXVFS_ERR_USAGE', 'a [quoted identifier that is never closed');
  await rejectsLtx(t, async () => splitStatements(`SELECT '${'y'.repeat(80)}`), 'LTXVFS_ERR_USAGE', `statement 1 (SELECT '${'y'.repeat(52)}…)`);
});
