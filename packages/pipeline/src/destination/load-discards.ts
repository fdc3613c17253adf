// What a load's schema contract left out, kept in its `_pipeline_loads` row (`contract_discards`, JSON), so that
// `show`, `openDataset(…).loads()` and a query find later that a load dropped data, not only that run's output.
// A nullable column of `_pipeline_loads` rather than a table of its own: a loader before it (same DATASET_FORMAT)
// inserts its load rows by column name, so it leaves the column NULL and reads the rest as before, while a new table
// would be listed by it among the data tables. NULL says nothing was left out, or the load is older than the column.
import type { ContractDiscard, ContractDiscards } from '../normalize/contract.js';

export const DISCARDS_COLUMN = 'contract_discards';

/** The column's value for a load: the load info's `contractDiscards` of the resource, NULL when nothing was left out. */
export function discardsColumnValue(discards: ContractDiscards | undefined): string | null {
  return discards === undefined || (discards.records === 0 && discards.values === 0) ? null : JSON.stringify(discards);
}

/** The column's text as ContractDiscards; null for NULL, or for a text this version cannot read (never an error: it is a note). */
export function parseDiscardsColumn(value: unknown): ContractDiscards | null {
  if (typeof value !== 'string') return null;
  try {
    const parsed = JSON.parse(value) as Partial<ContractDiscards>;
    if (typeof parsed.records !== 'number' || typeof parsed.values !== 'number' || !Array.isArray(parsed.fields)) return null;
    // Only the fields it can read: `show` names each by its table, field, mode and count.
    return { records: parsed.records, values: parsed.values, fields: (parsed.fields as unknown[]).filter(isReadableField) };
  } catch {
    return null;
  }
}

function isReadableField(field: unknown): field is ContractDiscard {
  const f = field as Partial<ContractDiscard> | null;
  return typeof f === 'object' && f !== null && typeof f.table === 'string' && typeof f.field === 'string' && typeof f.count === 'number' &&
    (f.mode === 'discard_row' || f.mode === 'discard_value');
}

/** Fields `show` names per load (a load keeps up to 50): its listing stays a few lines. */
const SHOWN_FIELDS = 5;
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * `show`'s words for a load's discards, to wrap as a list: the totals (records dropped whole under discard_row,
 * values under discard_value), then each field tallied as `table.field N records|values`.
 */
export function describeLoadDiscards(discards: ContractDiscards): string[] {
  const totals = [
    ...(discards.records > 0 ? [`${plural(discards.records, 'record')} (discard_row)`] : []),
    ...(discards.values > 0 ? [`${plural(discards.values, 'value')} (discard_value)`] : []),
  ];
  const fields = discards.fields.slice(0, SHOWN_FIELDS).map((f) => `${f.table === '*' ? '' : `${f.table}.`}${f.field} ${plural(f.count, f.mode === 'discard_row' ? 'record' : 'value')}`);
  const more = discards.fields.length > SHOWN_FIELDS ? [`${discards.fields.length - SHOWN_FIELDS} more fields (_pipeline_loads.contract_discards)`] : [];
  return [`left out by schemaContract: ${totals.join(' and ')}${fields.length > 0 ? `: ${fields[0]}` : ''}`, ...fields.slice(1), ...more];
}
