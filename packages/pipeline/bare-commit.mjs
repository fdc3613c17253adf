import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, rmSync } from 'node:fs';
const [mem, threads, extra] = process.argv.slice(2);
rmSync('/tmp/prof/bare.duckdb', { force: true }); rmSync('/tmp/prof/bare.duckdb.wal', { force: true });
const settings = { memory_limit: mem, threads, preserve_insertion_order: 'false', allocator_flush_threshold: process.env.AFT ?? '16MB', allocator_bulk_deallocation_flush_threshold: process.env.AFT ?? '16MB' };
const RG = process.env.RG;
const inst = await DuckDBInstance.create(RG ? ':memory:' : '/tmp/prof/bare.duckdb', RG ? { ...settings, temp_directory: '/tmp/prof/bare.duckdb.tmp' } : settings);
const conn = await inst.connect();
if (RG) { await conn.run(`ATTACH '/tmp/prof/bare.duckdb' AS bare (ROW_GROUP_SIZE ${RG})`); await conn.run('USE bare'); }
const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 10;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 10;
const stmts = readFileSync('/tmp/prof/sql2.log', 'utf8').split(';\n').filter(Boolean).filter(s => !s.includes('$1'));
if (extra) await conn.run(extra);
console.log('start rss', rss());
const t0 = Date.now();
for (const s of stmts) {
  const t = Date.now();
  if (s.startsWith("COMMIT") && process.env.MEMQ) { const r = await conn.runAndReadAll("SELECT tag, memory_usage_bytes>>20 AS mib, temporary_storage_bytes>>20 AS tmp FROM duckdb_memory() WHERE memory_usage_bytes>0 OR temporary_storage_bytes>0"); console.log(r.getRowObjectsJS()); }
  if (process.env.PER && s.startsWith('INSERT INTO "snapengage_data"."logs')) { const root = s.startsWith('INSERT INTO "snapengage_data"."logs" ('); await conn.run(root ? `SET threads=1; SET memory_limit='${process.env.PER.split(',')[0]}'` : `SET threads=2; SET memory_limit='${process.env.PER.split(',')[1]}'`); }
  if (process.env.TOGGLE && (s.startsWith('INSERT INTO "snapengage_data"."logs') || s.startsWith('COMMIT'))) { await conn.run('SET threads=1'); await conn.run('SET threads=2'); }
  await conn.run(s); if (process.env.FLUSH) { await conn.run("SET allocator_flush_threshold='0MB'"); await conn.run("SELECT 1"); await conn.run("SET allocator_flush_threshold='16MB'"); }
  if (Date.now() - t > 50) console.log(`${Date.now() - t}ms rss=${rss()} hwm=${hwm()} ${s.slice(0, 60)}`);
}
console.log('total', Date.now() - t0, 'ms; hwm', hwm());
