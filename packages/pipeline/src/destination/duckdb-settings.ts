// The DuckDB settings of every connection the loader opens (and the dataset API's, read-only): measured choices.

/** Settings every connection of the loader uses; exported for the dataset API. */
export function duckdbSettings(opts: { memoryLimit?: string; threads?: number } = {}): Record<string, string> {
  return {
    // Measured at 200k cases / 1.4M transcript rows: the commit needs ~160MB (each reading thread holds a 32 MiB
    // JSON buffer on top of the transaction's rows, which spill to `<path>.tmp` beyond the limit); 192MB leaves
    // room. Peak RSS is this plus Node plus DuckDB's untracked allocations.
    memory_limit: opts.memoryLimit ?? '192MB',
    threads: String(opts.threads ?? 2),
    // Bulk INSERT … SELECT need not keep file order; this lets DuckDB stream instead of buffering.
    preserve_insertion_order: 'false',
    // DuckDB's allocator keeps up to 128 MiB (512 MiB after bulk frees) of freed memory cached per process by
    // default; returning it early keeps the loader's RSS near its working set (measured: −100 MiB at commit).
    allocator_flush_threshold: '16MB',
    allocator_bulk_deallocation_flush_threshold: '16MB',
    // A file it creates stays readable by the DuckDB of an analyst's tools (1.0 on; v1.5.0 refuses 1.4 and older)
    // whatever a later DuckDB's default; an existing file keeps its own. Measured: QUERYING.md#other-duckdb-versions.
    storage_compatibility_version: 'v1.0.0',
  };
}
