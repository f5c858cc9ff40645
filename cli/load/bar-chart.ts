const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `value / max` of `width` cells, drawn with eighth-block characters. */
export function bar(value: number, max: number, width: number): string {
  if (max <= 0 || value <= 0) return '';
  const eighths = Math.max(1, Math.round((Math.min(value, max) / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]!;
}

export interface BarRow {
  readonly label: string;
  readonly value: number;
  /** Text printed after the count, e.g. a percentage. */
  readonly note?: string;
}

/** Rows of `label  bar  count  note`, bars scaled to the largest value. */
export function barChart(rows: readonly BarRow[], opts: { width?: number; indent?: string } = {}): string[] {
  const width = opts.width ?? 32;
  const indent = opts.indent ?? '  ';
  const max = Math.max(0, ...rows.map((r) => r.value));
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length));
  const counts = rows.map((r) => formatCount(r.value));
  const countWidth = Math.max(0, ...counts.map((c) => c.length));
  return rows.map((r, i) => {
    const b = bar(r.value, max, width).padEnd(width);
    return `${indent}${r.label.padEnd(labelWidth)}  ${b}  ${counts[i]!.padStart(countWidth)}${r.note ? `  ${r.note}` : ''}`.trimEnd();
  });
}

/** 12345 -> "12,345". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
