// Renders the handlebars templates in the top-level templates/ (copied into the package on build). Every value goes
// through a helper that escapes it for the file type: `json` for JSON, `md` for Markdown, `code` for Markdown code,
// `comment` for one-line comments. HTML escaping is off (noEscape) because none of the outputs is HTML; `strict` fails on a missing field.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

/** Installed package: <pkg>/templates. Running from the repo's sources: the top-level templates/ (never stale). */
export function templatesRoot(): string {
  const here = fileURLToPath(import.meta.url);
  const candidates = [
    fileURLToPath(new URL('../templates', import.meta.url)),
    fileURLToPath(new URL('../../../templates', import.meta.url)),
  ];
  if (here.includes(`${sep}src${sep}`)) candidates.reverse();
  const found = candidates.find((dir) => existsSync(join(dir, 'project')));
  if (!found) throw new Error(`templates not found in ${candidates.join(' or ')}; rebuild create-snapengage-pipeline`);
  return found;
}

/**
 * User text (a project name) as Markdown prose, mid-line: only what could start markup there is escaped, so the raw
 * README stays readable (`my-pipeline`, `my_pipeline`). Parentheses need no escape once brackets have one, and an
 * underscore inside a word is never emphasis.
 */
export function escapeMarkdown(value: string): string {
  return value
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*[\]<>|~]/g, '\\$&')
    .replace(/_/g, (underscore, at: number, text: string) => (/[\p{L}\p{N}]/u.test(text[at - 1] ?? '') && /[\p{L}\p{N}]/u.test(text[at + 1] ?? '') ? underscore : '\\_'));
}

function oneLineComment(value: string): string {
  return value.replace(/[\r\n\u2028\u2029]+/g, ' ');
}

/**
 * A template's text with LF line ends. A clone on Windows (git's autocrlf) has CRLF templates, copied into the package
 * by its build: projects made from it had CRLF files with LF lines inside them, and `--add` took the README's
 * unedited Resources line for an edited one (the README was compared with CRLF partials).
 */
function readTemplate(path: string): string {
  return readFileSync(path, 'utf8').replaceAll('\r\n', '\n');
}

function createHandlebars(root: string, partialSources: Map<string, string>): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value));
  hb.registerHelper('md', (value: unknown) => escapeMarkdown(String(value)));
  // Markdown the spec wrote (a resource's description), kept as Markdown, on one line.
  hb.registerHelper('inline', (value: unknown) => oneLineComment(String(value)));
  // Inside a code span or block Markdown escapes show literally; only a backtick or a line break could break out.
  hb.registerHelper('code', (value: unknown) => String(value).replace(/[`\r\n]+/g, ' '));
  hb.registerHelper('comment', (value: unknown) => oneLineComment(String(value)));
  const partials = join(root, 'partials');
  if (existsSync(partials)) {
    for (const file of readdirSync(partials).filter((f) => f.endsWith('.hbs'))) {
      const source = readTemplate(join(partials, file));
      partialSources.set(file.slice(0, -4), source);
      hb.registerPartial(file.slice(0, -4), source);
    }
  }
  return hb;
}

/** `_gitignore.hbs` → `.gitignore`: npm drops real dotfiles like .gitignore from published packages. */
export function outputName(templatePath: string): string {
  const withoutExt = templatePath.replace(/\.hbs$/, '');
  return withoutExt
    .split('/')
    .map((part) => (part.startsWith('_') ? `.${part.slice(1)}` : part))
    .join('/');
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), base) : [relative(base, join(dir, entry.name)).split(sep).join('/')],
  );
}

export interface Renderer {
  /** Renders every file of templates/project: output path → content. */
  renderProject(context: object): Map<string, string>;
  renderPartial(name: string, context: object): string;
}

const cache = new Map<string, Renderer>();

export function createRenderer(root: string = templatesRoot()): Renderer {
  const cached = cache.get(root);
  if (cached) return cached;
  const partialSources = new Map<string, string>();
  const hb = createHandlebars(root, partialSources);
  const projectDir = join(root, 'project');
  const compiled = listFiles(projectDir)
    .filter((f) => f.endsWith('.hbs'))
    .map((file) => ({
      output: outputName(file),
      template: hb.compile(readTemplate(join(projectDir, file)), { noEscape: true, strict: true }),
    }));
  const renderer: Renderer = {
    renderProject(context) {
      const files = new Map<string, string>();
      for (const { output, template } of compiled) {
        const text = template(context);
        if (output.endsWith('.json')) {
          try {
            JSON.parse(text);
          } catch (error) {
            throw new Error(`template ${output} rendered invalid JSON: ${(error as Error).message}`);
          }
        }
        files.set(output, text);
      }
      return files;
    },
    renderPartial(name, context) {
      const partial = partialSources.get(name);
      if (partial === undefined) throw new Error(`template partial ${name} not found`);
      return hb.compile(partial, { noEscape: true, strict: true })(context);
    },
  };
  cache.set(root, renderer);
  return renderer;
}
