/**
 * Where one SQL statement ends and the next begins, as SQLite decides it, without a
 * database: a port of SQLite's `sqlite3_complete()` (src/complete.c), whose small state
 * machine knows that the `;` inside `CREATE TRIGGER … BEGIN …; END` do not end the
 * statement. Used by `ltxvfs exec` to refuse SQL that controls transactions itself, so
 * that what it ships is exactly one transaction (lib/sql/exec-transaction.ts).
 *
 * Tokens as complete.c sees them: `;`; white space and comments (`-- …`, `/* … *\/`);
 * quoted strings and identifiers (`'…'`, `"…"`, `` `…` ``, `[…]`); words, of which
 * EXPLAIN, CREATE, TEMP/TEMPORARY, TRIGGER and END matter; anything else.
 */
import { LtxvfsError } from '../../ltx/errors.js';

/** One statement of a script. */
export interface SqlStatement {
  /** The statement's text, without its `;`, trimmed. */
  text: string;
  /** Its first word in upper case (`INSERT`, `BEGIN`, …), `''` when it starts with something else. */
  firstWord: string;
  /** 1-based position in the script. */
  index: number;
}

const SEMI = 0;
const WS = 1;
const OTHER = 2;
const EXPLAIN = 3;
const CREATE = 4;
const TEMP = 5;
const TRIGGER = 6;
const END = 7;

/** complete.c's `trans[state][token]`; states 0 invalid, 1 start, 2 normal, 3 explain, 4 create, 5 trigger, 6 semi, 7 end. */
const TRANS: readonly (readonly number[])[] = [
  [1, 0, 2, 3, 4, 2, 2, 2],
  [1, 1, 2, 3, 4, 2, 2, 2],
  [1, 2, 2, 2, 2, 2, 2, 2],
  [1, 3, 3, 2, 4, 2, 2, 2],
  [1, 4, 2, 2, 2, 4, 5, 2],
  [6, 5, 5, 5, 5, 5, 5, 5],
  [6, 6, 5, 5, 5, 5, 5, 7],
  [1, 7, 5, 5, 5, 5, 5, 5],
];

const KEYWORDS: Record<string, number> = { EXPLAIN, CREATE, TEMP, TEMPORARY: TEMP, TRIGGER, END };
const CLOSERS: Record<string, string> = { "'": "'", '"': '"', '`': '`', '[': ']' };

/** SQLite's `IdChar`: letters, digits, `_`, `$` and every character above U+007F. */
function isIdChar(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 0x7f;
}

/**
 * Split a script into statements as SQLite would run them one after the other.
 * Statements that are only white space and comments are left out.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for an unterminated comment, string or quoted
 *   identifier (naming the statement and what is open): SQLite would take the rest of the
 *   script into it.
 */
export function splitStatements(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  let state = 0;
  let start = 0;
  let firstWord: string | undefined;
  const finish = (end: number): void => {
    const text = sql.slice(start, end).trim();
    if (firstWord !== undefined) out.push({ text, firstWord, index: out.length + 1 });
    firstWord = undefined;
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    let token: number;
    const tokenStart = i;
    if (c === ';') {
      token = SEMI;
      i++;
    } else if (/\s/.test(c)) {
      token = WS;
      i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw unterminated(sql, start, out.length + 1, 'a /* comment');
      token = WS;
      i = close + 2;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      token = WS;
      i = nl < 0 ? sql.length : nl + 1;
    } else if (CLOSERS[c] !== undefined) {
      // A doubled closing quote inside is an escaped one: scanning on from it finds the real end.
      let close = sql.indexOf(CLOSERS[c], i + 1);
      while (close >= 0 && c !== '[' && sql[close + 1] === c) close = sql.indexOf(c, close + 2);
      if (close < 0) throw unterminated(sql, start, out.length + 1, c === '[' ? 'a [quoted identifier' : `a ${c}quoted${c} string or identifier`);
      token = OTHER;
      i = close + 1;
    } else if (isIdChar(c)) {
      while (i < sql.length && isIdChar(sql[i])) i++;
      const word = sql.slice(tokenStart, i).toUpperCase();
      token = /^[0-9]/.test(word) ? OTHER : KEYWORDS[word] ?? OTHER;
      if (state <= 1 && firstWord === undefined) firstWord = /^[A-Z_]/.test(word) ? word : '';
    } else {
      token = OTHER;
      i++;
    }
    if (token !== WS && token !== SEMI && firstWord === undefined) firstWord = '';
    state = TRANS[state][token];
    if (token === SEMI && state === 1) {
      finish(tokenStart);
      start = i;
    }
  }
  finish(sql.length);
  return out;
}

function unterminated(sql: string, start: number, index: number, what: string): LtxvfsError {
  const text = sql.slice(start).trim().replace(/\s+/g, ' ');
  return new LtxvfsError('LTXVFS_ERR_USAGE',
    `statement ${index} (${text.length > 60 ? `${text.slice(0, 60)}…` : text}) has ${what} that is never closed`);
}

/** First words of the statements that begin, end or nest transactions (SQLite's lang_transaction and lang_savepoint). */
export const TRANSACTION_CONTROL = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE']);

/**
 * The first statement of `sql` that controls transactions itself (BEGIN, COMMIT, END,
 * ROLLBACK, SAVEPOINT, RELEASE), or undefined. Statements inside a trigger body are part
 * of the CREATE TRIGGER and never count.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` as {@link splitStatements}.
 */
export function findTransactionControl(sql: string): SqlStatement | undefined {
  return splitStatements(sql).find((s) => TRANSACTION_CONTROL.has(s.firstWord));
}
