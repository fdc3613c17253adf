// Schema contracts (dlt's `schema_contract`): what a load may add to a resource's tables. The normalizer asks before
// it makes a child table (`tables`), a column (`columns`) or a variant column (`dataType`) that neither the spec
// declares nor the dataset has, and this answers by the resource's mode for that entity: go on (evolve), fail the run
// (freeze), leave the value out (discard_value) or the whole record (discard_row). What was left out is counted, per
// table and field, for the load info: a discard is never silent.
import { printable } from 'snapengage-client';
import type { SchemaContractMode } from '../config.js';
import { ConfigError } from '../errors.js';
import { shownValue } from '../shown-value.js';
import { RESERVED_COLUMN_NAMES } from './schema.js';
import { naturalName, type FieldNode, type TableState } from './table-tree.js';
import { DUCKDB_TYPES, type NewPathShape } from './types.js';

export type ContractEntity = 'tables' | 'columns' | 'dataType';
export type SchemaContractModes = Readonly<Record<ContractEntity, SchemaContractMode>>;

const MODES: readonly SchemaContractMode[] = ['evolve', 'freeze', 'discard_row', 'discard_value'];
const ENTITIES: readonly ContractEntity[] = ['tables', 'columns', 'dataType'];
const EVOLVE: SchemaContractModes = { tables: 'evolve', columns: 'evolve', dataType: 'evolve' };

const allowed = MODES.map((m) => `"${m}"`).join(', ');

/** The config's `schemaContract` (a mode, or one per entity) as a mode per entity; `field` names it in errors. */
export function resolveSchemaContract(value: unknown, field: string): SchemaContractModes {
  if (value === undefined) return EVOLVE;
  if (typeof value === 'string') {
    if (!MODES.includes(value as SchemaContractMode)) throw new ConfigError(`${field} must be one of ${allowed}, or an object { tables, columns, dataType } of them; got ${shownValue(value)}`);
    const mode = value as SchemaContractMode;
    return { tables: mode, columns: mode, dataType: mode };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${field} must be one of ${allowed}, or an object such as { columns: 'freeze' }; got ${shownValue(value)}`);
  }
  const given = value as Record<string, unknown>;
  const modes = { ...EVOLVE };
  for (const entity of ENTITIES) {
    const mode = given[entity];
    if (mode === undefined) continue;
    if (!MODES.includes(mode as SchemaContractMode)) throw new ConfigError(`${field}.${entity} must be one of ${allowed}; got ${shownValue(mode)}`);
    modes[entity] = mode as SchemaContractMode;
  }
  return modes;
}

/**
 * What the contract is asked about for a new path's first value (see newPathShape): a child table, or a column (a
 * scalar, a list of scalars, or an object or list past the depth: JSON); nothing for a flattened object, whose fields
 * are asked about one by one, or a list that says nothing.
 */
export function entityOf(shape: NewPathShape): ContractEntity | undefined {
  return shape.kind === 'table' ? 'tables' : shape.kind === 'column' ? 'columns' : undefined;
}


/** What one field had left out by the contract in a load (see ContractDiscards). */
export interface ContractDiscard {
  entity: ContractEntity;
  mode: 'discard_row' | 'discard_value';
  table: string;
  /** Source path from the record (`transcripts[].mood`), cut past MAX_SHOWN_PATH characters. */
  field: string;
  /** dataType only: what the field is stored as (`BIGINT column chat_duration`), and the type of the value left out. */
  storedAs?: string;
  valueType?: string;
  /** Values left out (discard_value), or records (discard_row) this field was the first reason for. */
  count: number;
}

/** Everything a resource's load left out by its contract: records (discard_row) and values (discard_value). */
export interface ContractDiscards {
  records: number;
  values: number;
  fields: ContractDiscard[];
}

/** Thrown through the normalizer to drop the record being normalized (discard_row). */
export const DISCARD_ROW = Symbol('discard row');

/** A freeze refused a change: `what` and `fix`, for the writer's DestinationError (code `schema`). */
export class ContractViolation extends Error {
  constructor(readonly what: string, readonly fix: string) {
    super(`${what}: ${fix}`);
  }
}

const MAX_SHOWN_PATH = 100;
/**
 * Fields tallied one by one; past them, per entity and mode, as one `(other fields)` entry. An object keyed by ids
 * brings a new field per record, and the tally lives for the whole load.
 */
const MAX_TALLIED_FIELDS = 50;
/** Fields the load info's text names per resource (the --json document has the tally). */
const LISTED = 12;

/** The contract of one resource's load. */
export class SchemaContract {
  private readonly tally = new Map<string, ContractDiscard>();
  /** discard_value counts of the record being normalized: kept only when the record is. */
  private pending: ContractDiscard[] = [];
  records = 0;

  constructor(
    private readonly resource: string,
    readonly modes: SchemaContractModes,
    /** `--refresh`: the tables are built anew, so a refusal does not speak of what the dataset has. */
    private readonly refresh = false,
  ) {}

  /** Whether a record may be dropped after some of its rows were made (the normalizer then holds them back). */
  get discardsRows(): boolean {
    return ENTITIES.some((e) => this.modes[e] === 'discard_row');
  }

  /**
   * Whether the normalizer may make what `entity` is about for `value` at `node`; false: leave the value out. Throws
   * ContractViolation (freeze) or DISCARD_ROW. A table this load makes that the spec does not declare takes its
   * columns and types as they come, as in dlt (a new table's columns evolve): `tables` decided whether it is made.
   */
  allows(entity: ContractEntity, table: TableState, node: FieldNode, value: unknown, newUndeclared: boolean): boolean {
    const mode = this.modes[entity];
    if (mode === 'evolve' || (entity !== 'tables' && newUndeclared)) return true;
    const field = fieldPath(table, node);
    const stored = entity === 'dataType' ? storedAs(table, node) : undefined;
    const valueType = entity === 'dataType' ? jsonKind(value) : undefined;
    if (mode === 'freeze') throw this.violation(entity, table, node, field, stored, valueType);
    const discard: ContractDiscard = { entity, mode, table: table.def.name, field, ...(stored ? { storedAs: stored, valueType } : {}), count: 1 };
    if (mode === 'discard_row') {
      this.pending = [];
      this.records++;
      this.count(discard);
      throw DISCARD_ROW;
    }
    this.pending.push(discard);
    return false;
  }

  /** The record was staged: its discarded values count. */
  recordKept(): void {
    for (const d of this.pending) this.count(d);
    this.pending = [];
  }

  discards(): ContractDiscards | undefined {
    if (this.tally.size === 0) return undefined;
    const fields = [...this.tally.values()];
    const values = fields.filter((f) => f.mode === 'discard_value').reduce((n, f) => n + f.count, 0);
    return { records: this.records, values, fields };
  }

  private count(d: ContractDiscard): void {
    const key = JSON.stringify([d.entity, d.mode, d.table, d.field, d.valueType ?? null]);
    const known = this.tally.get(key);
    if (known) known.count += d.count;
    else if (this.tally.size < MAX_TALLIED_FIELDS) this.tally.set(key, { ...d });
    else {
      const other = JSON.stringify([d.entity, d.mode]);
      const entry = this.tally.get(other);
      if (entry) entry.count += d.count;
      else this.tally.set(other, { entity: d.entity, mode: d.mode, table: '*', field: '(other fields)', count: d.count });
    }
  }

  private violation(entity: ContractEntity, table: TableState, node: FieldNode, field: string, stored: string | undefined, valueType: string | undefined): ContractViolation {
    const name = this.resource;
    const setting = `resources.${name}.schemaContract.${entity}`;
    const modes = `set ${setting} to "evolve", "discard_value" or "discard_row"`;
    const rerun = 'nothing of this run was loaded, and the next run reads the same records again';
    // Under --refresh the stored tables are being replaced, not extended: what they hold is not what is checked.
    const basis = this.refresh ? `--refresh builds ${name}'s tables anew from the spec and this run's records` : undefined;
    if (entity === 'dataType') {
      // The spec may declare the field already, with the stored type or another: a stored column keeps its type.
      const what = `${/^[aeiou]/.test(valueType ?? '') ? 'an' : 'a'} ${valueType} value in table ${table.def.name}, field ${field}, whose ${stored} does not take it (it would go to a new variant column)`;
      const retype = this.refresh ? 'declare that type in the spec (npm run generate)' : `declare that type in the spec (npm run generate) and reload ${name} with --refresh (a stored column keeps its type)`;
      return new ContractViolation(
        `${name}: the schema contract (dataType: freeze) refused ${what}${basis ? `; ${basis}` : ''}`,
        `convert the value in a map step (resources.${name}.steps), or ${modes}; for a column of another type, ${retype}; ${rerun}`,
      );
    }
    const what = entity === 'tables' ? `a new child table for ${field} (a list of objects) under ${table.def.name}` : `a new column in table ${table.def.name} for field ${field}`;
    const userColumn = entity === 'columns' ? columnAddedByHand(table, node) : undefined;
    const why = basis ? `which the spec does not declare (${basis}: what earlier loads added is not kept)`
      : userColumn ? `which the spec does not declare; the table's column ${printable(userColumn)} was added by hand, and the loader never writes into such a column (the field would get a new column beside it)`
      : 'which the spec does not declare and the dataset does not have';
    return new ContractViolation(`${name}: the schema contract (${entity}: freeze) refused ${what}, ${why}`, `declare it in the spec (npm run generate), or ${modes}; ${rerun}`);
  }
}

/** The column a user added to the stored table (not the loader's) under the name a field's column would have. */
function columnAddedByHand(table: TableState, node: FieldNode): string | undefined {
  const inFile = table.def.namesInFile;
  if (!inFile) return undefined;
  const wanted = naturalName(node).toLowerCase();
  const own = new Set([...table.def.columns.map((c) => c.name), ...RESERVED_COLUMN_NAMES].map((n) => n.toLowerCase()));
  return own.has(wanted) ? undefined : inFile.find((n) => n.toLowerCase() === wanted);
}

/** A node's source path from the record: the table's own path (`transcripts[]`), then the keys below its rows. */
function fieldPath(table: TableState, node: FieldNode): string {
  const keys = node.path.join('.');
  const base = table.sourcePath ?? '';
  const path = printable(base === '' ? keys : keys === '' ? base : `${base}.${keys}`);
  return path.length > MAX_SHOWN_PATH ? `${path.slice(0, MAX_SHOWN_PATH)}... (${path.length} characters)` : path;
}

/** What a node is stored as, for a value of another type: a column and its type, a flattened object, a child table. */
function storedAs(table: TableState, node: FieldNode): string {
  if (node.kind === 'column') return `${DUCKDB_TYPES[node.column!.type]} column ${node.column!.name}`;
  if (node.kind === 'table') return `child table ${node.table!.def.name} (lists of objects)`;
  return `object flattened into columns of ${table.def.name}`;
}

/** The JSON type of a value, as an API reader would say it. */
function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number' || typeof value === 'bigint') return Number.isInteger(value) || typeof value === 'bigint' ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'object';
}

/** The load info's lines: per resource, what its contract left out and why, the fields first left out listed. */
export function describeContractDiscards(byResource: Readonly<Record<string, ContractDiscards>>): string[] {
  const lines: string[] = [];
  for (const [name, d] of Object.entries(byResource)) {
    const counts = [
      ...(d.records > 0 ? [`${d.records} record${d.records === 1 ? '' : 's'} with their child rows (discard_row)`] : []),
      ...(d.values > 0 ? [`${d.values} value${d.values === 1 ? '' : 's'} (discard_value)`] : []),
    ];
    const fields = d.fields.slice(0, LISTED).map((f) => {
      const why = f.entity === 'tables' ? 'new table' : f.entity === 'columns' ? 'new column' : `${f.valueType} for ${f.storedAs}`;
      return `${f.table === '*' ? '' : `${f.table}: `}${f.field} (${why}) ${f.count}`;
    });
    const more = d.fields.length > LISTED ? ` and ${d.fields.length - LISTED} more (--json lists them)` : '';
    lines.push(
      `Left out by resources.${name}.schemaContract: ${counts.join(' and ')}; ${fields.join(', ')}${more}. ` +
        'To load them, declare the fields in the spec (npm run generate) or set the contract to "evolve"; records a later run does not read again need --refresh',
    );
  }
  return lines;
}
