/** Sums the samples of one metric, optionally only those whose labels match. */
export function sumMetric(text: string, name: string, where: (labels: string) => boolean = () => true): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line) ?? new RegExp(`^${name} (\\S+)$`).exec(line);
    if (!m) continue;
    if (m.length === 3 && !where(m[1]!)) continue;
    total += Number(m[m.length - 1]);
  }
  return total;
}
