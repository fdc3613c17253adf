// Did-you-mean for names a user typed: config options, datasets, tables.

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The name in `names` that `name` most likely misspells: the closest within `maxEdits`, letter case ignored. */
export function nearestName(name: string, names: readonly string[], maxEdits: number): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; edits: number } | undefined;
  for (const candidate of names) {
    const edits = editDistance(candidate.toLowerCase(), lower);
    if (edits <= maxEdits && (best === undefined || edits < best.edits)) best = { name: candidate, edits };
  }
  return best?.name;
}
