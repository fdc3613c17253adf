// Widths in terminal columns, not UTF-16 code units: a CJK character or an emoji takes two, an escape code none.
import truncatedWidth from 'fast-string-truncated-width';

/** Display width of `text` in terminal columns. */
export function widthOf(text: string): number {
  return truncatedWidth(text, { limit: Infinity }).width;
}

/** `text` cut to `width` columns, with an ellipsis when cut (`...` where the terminal shows no Unicode). */
export function fit(text: string, width: number, ellipsis = '…'): string {
  const cut = truncatedWidth(text, { limit: Math.max(0, width), ellipsis });
  return cut.truncated ? `${text.slice(0, cut.index)}${cut.ellipsed ? ellipsis : ''}` : text;
}

/** `text` padded with spaces to `width` columns (String.padEnd counts code units, so wide names were padded too far). */
export function padEndWidth(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - widthOf(text)));
}
