import { writeFile } from 'node:fs/promises';
import { loadHelp, loadLoadConfig } from './options.js';
import { ProgressLine, renderProgress } from './progress-bar.js';
import { probeTcp, runLoad } from './run-load.js';
import { renderShareChart } from './share-chart-svg.js';
import { renderSummary } from './terminal-summary.js';

/** `switchyard load <url>`: exit 0 after a run with responses, 1 when nothing answered, 2 on bad options. */
export async function runLoadCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config: cfg, help } = loadLoadConfig({ argv, env });
  if (help) {
    process.stdout.write(loadHelp());
    return 0;
  }
  try {
    await probeTcp(cfg.url);
  } catch (err) {
    process.stderr.write(`switchyard load: cannot connect to ${cfg.url}: ${(err as Error).message}\n`);
    return 1;
  }

  const showProgress = cfg.progress ?? (process.stdout.isTTY === true && process.stderr.isTTY === true);
  const line = showProgress ? new ProgressLine(process.stderr) : undefined;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report;
  try {
    report = await runLoad(cfg, {
      signal: abort.signal,
      ...(line ? { onProgress: (p: Parameters<typeof renderProgress>[0]) => line.draw(renderProgress(p)) } : {}),
    });
  } finally {
    line?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (cfg.chart) await writeFile(cfg.chart, renderShareChart(report));
  if (cfg.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderSummary(report) + (cfg.chart ? `Chart: ${cfg.chart}\n` : ''));
  return report.requests.completed > 0 ? 0 : 1;
}
