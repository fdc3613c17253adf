export { ResourceNormalizer, childRowId, rootRowId } from './normalizer.js';
export type { NormalizerOptions, TableState, RowSink, StagedKind } from './normalizer.js';
export { snakeCase, joinPath, NameAllocator, quoteIdent, quoteLiteral, PATH_SEPARATOR } from './naming.js';
export { declaredShape, coerce, inferType, DUCKDB_TYPES, isDataType } from './types.js';
export type { DataType, ScalarType, ListType, JsonSchema } from './types.js';
export type { TableDef, ColumnDef } from './schema.js';
export { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from './schema.js';
