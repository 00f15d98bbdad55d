import cliProgress from 'cli-progress';

/**
 * Progress events that library code emits and callers render: the CLI draws a bar, notebooks
 * print a line, tests ignore them. `metrics` carries per-update numbers such as loss or tokens/s.
 */
export type ProgressEvent =
  | { kind: 'start'; task: string; total: number; unit: string }
  | { kind: 'update'; task: string; done: number; total: number; metrics?: Record<string, number> }
  | { kind: 'end'; task: string; done: number; seconds: number; metrics?: Record<string, number> }
  | { kind: 'log'; message: string };

export type ProgressCallback = (event: ProgressEvent) => void;

export const silentProgress: ProgressCallback = () => {};

function formatMetrics(metrics: Record<string, number> | undefined): string {
  if (!metrics) return '';
  return Object.entries(metrics)
    .map(([name, value]) => `${name}=${Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(4)}`)
    .join(' ');
}

/**
 * Renders events as cli-progress bars with ETA on a terminal, and as one log line per
 * `logEverySeconds` where stderr is not a terminal (CI logs, notebooks, redirected output).
 */
export function consoleProgress(options: { logEverySeconds?: number; stream?: NodeJS.WriteStream } = {}): ProgressCallback {
  const stream = options.stream ?? process.stderr;
  const logEverySeconds = options.logEverySeconds ?? 10;
  const interactive = Boolean(stream.isTTY);
  const bars = new Map<string, { bar?: cliProgress.SingleBar; startedAt: number; lastLogAt: number; unit: string }>();

  return (event) => {
    if (event.kind === 'log') {
      stream.write(`${event.message}\n`);
      return;
    }
    if (event.kind === 'start') {
      const state = { startedAt: Date.now(), lastLogAt: 0, unit: event.unit, bar: undefined as cliProgress.SingleBar | undefined };
      if (interactive) {
        state.bar = new cliProgress.SingleBar(
          { format: `${event.task} [{bar}] {value}/{total} ${event.unit} | ETA {eta_formatted} | {metrics}`, stream, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        state.bar.start(event.total, 0, { metrics: '' });
      } else {
        stream.write(`${event.task}: started, ${event.total} ${event.unit}\n`);
      }
      bars.set(event.task, state);
      return;
    }
    const state = bars.get(event.task);
    if (event.kind === 'update') {
      if (state?.bar) {
        state.bar.setTotal(event.total);
        state.bar.update(event.done, { metrics: formatMetrics(event.metrics) });
        return;
      }
      const now = Date.now();
      const startedAt = state?.startedAt ?? now;
      if (state && now - state.lastLogAt < logEverySeconds * 1000 && event.done < event.total) return;
      if (state) state.lastLogAt = now;
      const elapsed = (now - startedAt) / 1000;
      const eta = event.done > 0 ? (elapsed / event.done) * (event.total - event.done) : NaN;
      const etaText = Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)} s` : '';
      stream.write(`${event.task}: ${event.done}/${event.total} ${state?.unit ?? ''}${etaText} ${formatMetrics(event.metrics)}\n`);
      return;
    }
    state?.bar?.stop();
    bars.delete(event.task);
    stream.write(`${event.task}: done, ${event.done} in ${event.seconds.toFixed(1)} s ${formatMetrics(event.metrics)}\n`);
  };
}
