/**
 * The database `ltxvfs demo` makes: a small shop (customers, orders) built with sql.js,
 * so the demo needs no sqlite3 binary. Deterministic: the same bytes' worth of rows every run.
 */
import { writeFile } from 'node:fs/promises';
import { initSqlJsShared } from '../../vfs/sqljs/index.js';

const CITIES = ['Lisbon', 'Oslo', 'Osaka', 'Lima', 'Perth', 'Quito', 'Turin', 'Tunis', 'Hanoi', 'Denver'];

/**
 * Write the demo database to `path`: 2,000 customers and 40,000 orders (about 2 MiB,
 * page size 4096, with an index on orders.customer_id).
 */
export async function makeDemoDatabase(path: string): Promise<void> {
  const SQL = await initSqlJsShared()(); // sql.js is an optional peer: a clear error names it when missing
  const db = new SQL.Database();
  try {
    db.exec(`
      PRAGMA page_size = 4096;
      CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
      CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL NOT NULL, note TEXT);
      CREATE INDEX orders_customer ON orders(customer_id);
    `);
    db.exec('BEGIN');
    const c = db.prepare('INSERT INTO customers (id, name, city) VALUES (?, ?, ?)');
    for (let i = 1; i <= 2000; i++) c.run([i, `customer-${String(i).padStart(4, '0')}`, CITIES[(i * 7) % CITIES.length]]);
    c.free();
    const o = db.prepare('INSERT INTO orders (id, customer_id, total, note) VALUES (?, ?, ?, ?)');
    for (let i = 1; i <= 40000; i++) {
      o.run([i, ((i * 7919) % 2000) + 1, ((i * 104729) % 100000) / 100, `order ${i} `.repeat(1 + (i % 4))]);
    }
    o.free();
    db.exec('COMMIT');
    await writeFile(path, db.export());
  } finally {
    db.close();
  }
}
