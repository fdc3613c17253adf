// What the terminal the progress display draws on can take, read from the environment: whether a person watches it
// live (not a CI job's log) and whether it shows Unicode (the locale's character set); and the CLI's text made safe
// to print on it (no control sequence of someone else's string reaches it).
import { printable } from 'snapengage-client';

/**
 * A CI job: CI set (GitHub Actions, GitLab, CircleCI, Buildkite, Travis…) to anything but false/0, or Azure Pipelines'
 * TF_BUILD. Some of them run the job in a pseudo-terminal (Buildkite by default, a `script` wrapper, `docker run -t`),
 * so the stream is a TTY, but the log keeps every redraw of a live display: pages of cursor escapes and repeated frames.
 */
export function inCi(env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') || env.GITHUB_ACTIONS === 'true' || env.TF_BUILD !== undefined;
}

/** The few non-ASCII characters the progress display draws, and their ASCII stand-ins. */
export interface Glyphs {
  /** Before each resource's line. */
  marker: string;
  /** Where a line was cut to the terminal's width, and after "committing into DuckDB". */
  ellipsis: string;
  /** Between a request and its outcome in --verbose lines. */
  arrow: string;
}

const UNICODE: Glyphs = { marker: '▸', ellipsis: '…', arrow: '→' };
const ASCII: Glyphs = { marker: '>', ellipsis: '...', arrow: '->' };

/**
 * ASCII where the locale says the terminal's character set is not UTF-8 (LANG=C, LC_ALL=POSIX, en_US.ISO-8859-1) and
 * on the Linux console (TERM=linux, whose fonts lack these glyphs; clack, which the scaffolder's prompts use, reads
 * it the same way). There the three bytes of `▸` showed as three characters, so each line was wider than measured,
 * wrapped, and the cursor-up of the next redraw left part of the frame behind. No locale at all (a container's bare
 * environment) says nothing of the terminal, whose programs mostly speak UTF-8: Unicode stays.
 */
export function glyphsFor(env: Readonly<Record<string, string | undefined>>): Glyphs {
  if (env.TERM === 'linux') return ASCII;
  // The first set of LC_ALL, LC_CTYPE, LANG is the one in force (POSIX's order of precedence for the character set).
  const locale = [env.LC_ALL, env.LC_CTYPE, env.LANG].find((value) => value !== undefined && value !== '');
  return locale === undefined || /utf-?8/i.test(locale) ? UNICODE : ASCII;
}

/**
 * Text the CLI prints, with every terminal control but the line break (LF, or CR LF) and the tab written as `\uXXXX`
 * (printable): ESC and C1 sequences (which rewrite the screen, its title, or the clipboard through OSC 52), a carriage
 * return alone (which prints over the line's start) and bidi overrides (which reorder what is read). The strings in it
 * are not all ours: ids from SNAPENGAGE_* variables, flags (`--dataset`, `--duckdb`), names kept in the DuckDB file, a
 * config's own error. The messages that quote an API's text escape it where they are made; this holds for the rest.
 * The joiners that are part of text stay (JOINED), so a path the CLI names reads, and copies, as it was typed.
 */
export function terminalText(text: string): string {
  return text.replace(/(?:[^\n\t\r]|\r(?!\n))+/g, (piece) => {
    let out = '';
    let last = 0;
    for (const joined of piece.matchAll(JOINED)) {
      out += printable(piece.slice(last, joined.index)) + joined[0];
      last = joined.index + joined[0].length;
    }
    return out + printable(piece.slice(last));
  });
}

/** A letter of a script other than ASCII's, or a combining mark (an Indic virama). */
const WORD_CHAR = String.raw`(?:[^\P{L}\p{ASCII}]|\p{M})`;
/**
 * printable's invisible characters where they are text, not a control: a zero-width joiner between two emoji (👨‍👩‍👧,
 * a skin tone or U+FE0F between), a zero-width (non-)joiner between letters of a script that writes with it (Persian,
 * Hindi), and the tag characters of a subdivision flag (🏴, tag digits and small letters, CANCEL TAG). Escaped,
 * `👨\u200d👩` named a file that does not exist when copied back. None is a terminal control; in an ASCII id one is
 * still escaped.
 */
const JOINED = new RegExp(
  String.raw`(?<=[\p{Extended_Pictographic}\p{Emoji_Modifier}\ufe0f])\u200d(?=\p{Extended_Pictographic})` +
    String.raw`|(?<=${WORD_CHAR})[\u200c\u200d](?=${WORD_CHAR})|\u{1f3f4}[\u{e0030}-\u{e0039}\u{e0061}-\u{e007a}]+\u{e007f}`,
  'gu',
);

/**
 * A JSON line (`run --json`) with the controls JSON.stringify leaves as they are (DEL, C1, bidi, invisible format
 * characters) written as JSON escapes: the same document to a parser, harmless in a terminal that shows it.
 */
export function terminalJson(line: string): string {
  return line.replace(/[^\x20-\x7e]/gu, (c) => (printable(c) === c ? c : [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')));
}
