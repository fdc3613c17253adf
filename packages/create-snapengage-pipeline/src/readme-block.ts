// The project README's generated "Resources:" block (templates/partials/resourcesBlock.hbs). The README is the user's
// to edit, so `--add` rewrites the block only while it is exactly what the scaffolder renders for the names it lists;
// an edited, moved or deleted block is left alone and the caller tells the user what to add by hand.
import type { Renderer } from './render.js';

const PARTIAL = 'resourcesBlock';
const START = '<!-- resources:';
const END = '<!-- /resources -->';

export type ReadmeUpdate = { updated: true; text: string } | { updated: false; mention: string[] };

/** The block of `names`, as the README template writes it (`\n` line ends). */
function renderBlock(names: readonly string[], renderer: Renderer): string {
  return renderer.renderPartial(PARTIAL, { resources: names.map((name) => ({ name })) });
}

/** The README with `added` appended to its generated Resources line, or why not (the names to mention by hand). */
export function addToResourcesBlock(readme: string, added: readonly string[], renderer: Renderer): ReadmeUpdate {
  const keep: ReadmeUpdate = { updated: false, mention: [...added] };
  const start = readme.indexOf(START);
  // One block only: with two (a pasted copy) there is no telling which one the user reads.
  if (start < 0 || readme.indexOf(START, start + 1) >= 0) return keep;
  const endAt = readme.indexOf(END, start);
  if (endAt < 0) return keep;
  const end = endAt + END.length + (readme.startsWith('\r\n', endAt + END.length) ? 2 : readme.startsWith('\n', endAt + END.length) ? 1 : 0);
  const block = readme.slice(start, end);
  // A checkout with CRLF line ends (git's autocrlf) is still unedited: compare and write in the file's own line ends.
  const crlf = block.includes('\r\n');
  const plain = crlf ? block.replaceAll('\r\n', '\n') : block;
  const listed = [...plain.matchAll(/`([^`\n]*)`/g)].map((m) => m[1]!);
  if (renderBlock(listed, renderer) !== plain) return keep;
  const names = [...listed, ...added.filter((name) => !listed.includes(name))];
  const next = renderBlock(names, renderer);
  return { updated: true, text: readme.slice(0, start) + (crlf ? next.replaceAll('\n', '\r\n') : next) + readme.slice(end) };
}
