import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, rmSync } from 'node:fs';
const sql = readFileSync('/tmp/prof/logs_insert.sql', 'utf8').trim().replace(/;$/, '');
const select = sql.slice(sql.indexOf('SELECT'));
const [mode, mem, threads] = process.argv.slice(2);
rmSync('/tmp/prof/q.duckdb', { force: true });
const inst = await DuckDBInstance.create('/tmp/prof/q.duckdb', { memory_limit: mem, threads, preserve_insertion_order: 'false', allocator_flush_threshold: '16MB', allocator_bulk_deallocation_flush_threshold: '16MB' });
const c = await inst.connect();
const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 10;
const before = hwm();
const t = Date.now();
if (mode === 'count') await c.run(`SELECT count(*) FROM (${select.replace(/ SEMI JOIN.*$/, '')})`);
else if (mode === 'copy') { await c.run(`COPY (${select.replace(/ SEMI JOIN.*$/, '')}) TO '/dev/null' (FORMAT csv)`); } else { await c.run(`CREATE TABLE t AS ${select.replace(/ SEMI JOIN.*$/, '')} LIMIT 0`); await c.run(`INSERT INTO t ${select.replace(/ SEMI JOIN.*$/, '')}`); }
console.log(mode, mem, threads, Date.now() - t, 'ms hwm', before, '->', hwm());
