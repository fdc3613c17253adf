// The project README's generated blocks: the "Resources:" line (templates/partials/resourcesBlock.hbs) and the note on
// resources read per record of another (perRecordBlock.hbs), which follows from it. The README is the user's to edit,
// so `--add` rewrites a block only while it is exactly what the scaffolder renders for the names the Resources line
// lists; an edited, moved or deleted Resources line is left alone and the caller tells the user what to add by hand
// (an edited note is left alone too: it only explains).
import { perRecordResources, type ResourceChoice } from './catalog.js';
import type { Renderer } from './render.js';

interface Block {
  partial: string;
  start: string;
  end: string;
}

const RESOURCES: Block = { partial: 'resourcesBlock', start: '<!-- resources:', end: '<!-- /resources -->' };
const PER_RECORD: Block = { partial: 'perRecordBlock', start: '<!-- per-record:', end: '<!-- /per-record -->' };

export type ReadmeUpdate = { updated: true; text: string } | { updated: false; mention: string[] };

/** Where a block sits (its end line's line end included), or undefined when it is missing or there twice. */
function findBlock(readme: string, block: Block): { start: number; end: number; text: string; crlf: boolean } | undefined {
  const start = readme.indexOf(block.start);
  // One block only: with two (a pasted copy) there is no telling which one the user reads.
  if (start < 0 || readme.indexOf(block.start, start + 1) >= 0) return undefined;
  const endAt = readme.indexOf(block.end, start);
  if (endAt < 0) return undefined;
  const after = endAt + block.end.length;
  const end = after + (readme.startsWith('\r\n', after) ? 2 : readme.startsWith('\n', after) ? 1 : 0);
  const raw = readme.slice(start, end);
  // A checkout with CRLF line ends (git's autocrlf) is still unedited: compare and write in the file's own line ends.
  const crlf = raw.includes('\r\n');
  return { start, end, text: crlf ? raw.replaceAll('\r\n', '\n') : raw, crlf };
}

/** `readme` with the block found at `at` replaced by `next` (`\n` line ends), in the file's own line ends. */
function replaceBlock(readme: string, at: { start: number; end: number; crlf: boolean }, next: string): string {
  return readme.slice(0, at.start) + (at.crlf ? next.replaceAll('\n', '\r\n') : next) + readme.slice(at.end);
}

/** The per-record note's context, as the project template gets it (project.ts), for the resources `names`. */
function perRecordContext(names: readonly string[], catalog: readonly ResourceChoice[]): object {
  return { perRecord: perRecordResources(catalog.filter((c) => names.includes(c.name))) };
}

/**
 * The README with `added` appended to its generated Resources line (and the per-record note following it), or why
 * not (the names to mention by hand).
 */
export function addToResourcesBlock(readme: string, added: readonly string[], renderer: Renderer, catalog: readonly ResourceChoice[]): ReadmeUpdate {
  const keep: ReadmeUpdate = { updated: false, mention: [...added] };
  const resources = findBlock(readme, RESOURCES);
  if (!resources) return keep;
  const listed = [...resources.text.matchAll(/`([^`\n]*)`/g)].map((m) => m[1]!);
  const renderResources = (names: readonly string[]) => renderer.renderPartial(RESOURCES.partial, { resources: names.map((name) => ({ name })) });
  if (renderResources(listed) !== resources.text) return keep;
  const names = [...listed, ...added.filter((name) => !listed.includes(name))];
  const text = replaceBlock(readme, resources, renderResources(names));
  const note = findBlock(text, PER_RECORD);
  if (!note || renderer.renderPartial(PER_RECORD.partial, perRecordContext(listed, catalog)) !== note.text) return { updated: true, text };
  return { updated: true, text: replaceBlock(text, note, renderer.renderPartial(PER_RECORD.partial, perRecordContext(names, catalog))) };
}
