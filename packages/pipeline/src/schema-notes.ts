// The load info's lines about schema changes (normalize/schema-report.ts): what a load added that the spec does not
// declare, where values went that their column's type does not take and how to read them together, and stored
// columns the spec now types otherwise. Plain ASCII, as the rest of the load info (cron mails it under LANG=C).
import { printable } from 'snapengage-client';
import { quoteIdent } from './normalize/naming.js';
import type { SchemaReport } from './normalize/schema-report.js';

/** Items listed per line; the rest are counted (`show` lists every column). */
const LISTED = 12;
const SEE = `see "Schema changes" in the pipeline's NORMALIZATION.md`;

/** A key the API sent, quoted: its terminal controls (a C1 CSI, which JSON.stringify leaves as is) escaped. */
function quoted(key: string): string {
  return printable(JSON.stringify(key));
}

type ListName = 'newColumns' | 'newTables' | 'newVariants' | 'typeMismatches';

/** A SchemaReport as `--json` prints it: lists cut, `notListed` counting what each left out (only when it did). */
export type ListedSchemaReport = Omit<SchemaReport, 'depthNotApplied'> & {
  notListed?: Partial<Record<ListName, number>>;
  depthNotApplied?: NonNullable<SchemaReport['depthNotApplied']> & { notListed?: Partial<Record<'deeper' | 'json', number>> };
};

/**
 * The schema changes as `--json` prints them (LoadInfo.toJSON): each list cut to its first LISTED items, as the text
 * is (a load can add 1,500 columns to a resource; `show` lists them all).
 */
export function listedSchemaChanges(changes: Readonly<Record<string, SchemaReport>>): Record<string, ListedSchemaReport> {
  return Object.fromEntries(Object.entries(changes).map(([resource, report]) => {
    const { depthNotApplied: depth, ...lists } = report;
    const listed: ListedSchemaReport = cutLists(lists);
    if (depth) listed.depthNotApplied = { maxNestingDepth: depth.maxNestingDepth, ...cutLists({ deeper: depth.deeper, json: depth.json }) };
    return [resource, listed];
  }));
}

function cutLists<T extends Record<string, readonly unknown[]>>(lists: T): T & { notListed?: Partial<Record<keyof T, number>> } {
  const cut = Object.fromEntries(Object.entries(lists).map(([name, items]) => [name, items.slice(0, LISTED)])) as Record<string, unknown[]>;
  const notListed = Object.fromEntries(Object.entries(lists).filter(([, items]) => items.length > LISTED).map(([name, items]) => [name, items.length - LISTED]));
  return { ...cut, ...(Object.keys(notListed).length > 0 ? { notListed } : {}) } as T & { notListed?: Partial<Record<keyof T, number>> };
}

function listed(items: readonly string[]): string {
  const shown = items.slice(0, LISTED).join(', ');
  return items.length > LISTED ? `${shown} and ${items.length - LISTED} more (show lists every column)` : shown;
}

/**
 * The SQL that reads a column and its variant as one text value: the documented recipe (NORMALIZATION.md
 * "Variant columns"), which schema-evolution.test.ts runs.
 */
export function variantCoalesceSql(column: string, variant: string, variantType: string): string {
  return `coalesce(${quoteIdent(column)}::VARCHAR, ${quoteIdent(variant)}${variantType === 'VARCHAR' ? '' : '::VARCHAR'})`;
}

export function describeSchemaChanges(dataset: string, changes: Readonly<Record<string, SchemaReport>>): string[] {
  const reports = Object.values(changes);
  const columns = reports.flatMap((r) => r.newColumns.map((c) => `${c.table}.${c.column} ${c.type}${c.key !== undefined ? ` (key ${quoted(c.key)}, its name taken)` : ''}`));
  const tables = reports.flatMap((r) => r.newTables);
  const variants = reports.flatMap((r) => r.newVariants);
  // With the resource: a bare --refresh reloads every resource the run loads, not just the one named.
  const mismatches = Object.entries(changes).flatMap(([resource, r]) => r.typeMismatches.map((m) => ({ ...m, resource })));
  const lines: string[] = [];
  if (columns.length > 0 || tables.length > 0) {
    const parts = [
      ...(columns.length > 0 ? [`new columns ${listed(columns)}`] : []),
      ...(tables.length > 0 ? [`new child tables ${listed(tables)}`] : []),
    ];
    lines.push(`Fields the spec does not declare, typed from their first value: ${parts.join('; ')} (to type them yourself, declare them in the spec: ${SEE})`);
  }
  for (const v of variants.slice(0, LISTED)) {
    const count = `${v.values} ${v.values === 1 ? 'value' : 'values'}`;
    if (v.of !== null) {
      lines.push(
        `Values ${v.table}.${v.of} (${v.ofType}) does not take, kept in the new column ${v.table}.${v.column} ${v.type}: ${count} this run. ` +
          `Read both as one: SELECT ${variantCoalesceSql(v.of, v.column, v.type)} FROM ${quoteIdent(dataset)}.${quoteIdent(v.table)} (${SEE})`,
      );
    } else {
      lines.push(
        `Values of ${v.table}'s field ${quoted(v.field)} that do not fit how it is stored (an object flattened into columns, or a child table), ` +
          `kept in the new column ${v.table}.${v.column} ${v.type}: ${count} this run (${SEE})`,
      );
    }
  }
  if (variants.length > LISTED) lines.push(`... and ${variants.length - LISTED} more new variant columns (show lists every column)`);
  for (const m of mismatches.slice(0, LISTED)) {
    if (m.kind === 'column') {
      lines.push(
        `Warning: ${m.table}.${m.column} is stored as ${m.type}, but the spec now declares ${m.declared}: values ${m.type} does not take go to its variant columns. ` +
          `To have it re-created as ${m.declared}, drop the column and its variants (the next load re-creates it), or reload ${m.resource} with --refresh --resources ${m.resource}, which replaces its tables at the commit (${SEE})`,
      );
    } else {
      const stored = m.kind === 'table' ? `a child table (${m.type})` : 'an object flattened into columns';
      lines.push(
        `Warning: ${m.table}'s field ${quoted(m.column)} is stored as ${stored}, but the spec now declares ${m.declared}: its values go to variant columns. ` +
          `To have it stored as ${m.declared}, reload ${m.resource} with --refresh --resources ${m.resource}, which replaces its tables at the commit (${SEE})`,
      );
    }
  }
  const more = mismatches.length - LISTED;
  if (more > 0) lines.push(`... and ${more} more ${more === 1 ? 'column' : 'columns'} stored with another type than the spec declares`);
  for (const [resource, report] of Object.entries(changes)) {
    const depth = report.depthNotApplied;
    if (!depth) continue;
    const kept = [
      ...(depth.deeper.length > 0 ? [`${listed(depth.deeper)} stay flattened into columns or child tables`] : []),
      ...(depth.json.length > 0 ? [`${listed(depth.json)} stay one JSON column`] : []),
    ];
    lines.push(
      `maxNestingDepth ${depth.maxNestingDepth} of ${resource} applies to new fields only: as earlier loads stored them, ${kept.join('; ')}. ` +
        `To store them as it says, reload it: snapengage-pipeline run --refresh --resources ${resource} (see "Tables" in the pipeline's NORMALIZATION.md)`,
    );
  }
  return lines;
}
