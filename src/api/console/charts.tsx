/**
 * The console's plots, drawn on the server as SVG: they need no script and no chart library in the
 * browser (the pages work with scripts off), and everything in them is text the JSX renderer
 * escapes. Latencies span orders of magnitude, so both plots use a log scale.
 */
const WIDTH = 720;
const HEIGHT = 240;
const PAD = { left: 64, right: 16, top: 12, bottom: 36 };

/** Maps latencies onto the plot's height, slowest at the top, on a log scale. */
function logScale(values: number[]): (ms: number) => number {
  const positive = values.filter((v) => v > 0);
  const hi = Math.log10(Math.max(...positive));
  const lo = Math.log10(Math.min(...positive));
  const span = hi - lo || 1;
  const inner = HEIGHT - PAD.top - PAD.bottom;
  return (ms) => PAD.top + ((hi - Math.log10(Math.max(ms, 1e-12))) / span) * inner;
}

function msText(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toPrecision(2);
}

/** The latency waterfall of a schedule: the baseline, then the latency after each accepted step. */
export function LatencyWaterfall(props: {
  baselineMs: number;
  steps: Array<{ optionId: string; latencyAfterMs: number }>;
}) {
  const bars = [
    { label: 'baseline', ms: props.baselineMs },
    ...props.steps.map((s, i) => ({ label: `${i + 1}`, ms: s.latencyAfterMs })),
  ];
  const y = logScale(bars.map((b) => b.ms));
  const floor = HEIGHT - PAD.bottom;
  const slot = (WIDTH - PAD.left - PAD.right) / bars.length;
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="latency after each step">
      <title>Latency after each step (ms, log scale)</title>
      <line x1={PAD.left} y1={floor} x2={WIDTH - PAD.right} y2={floor} stroke="#8a93a3" />
      {bars.map((bar, i) => {
        const top = Math.min(y(bar.ms), floor - 2);
        const x = PAD.left + i * slot + slot * 0.15;
        return (
          <g>
            <rect x={x} y={top} width={slot * 0.7} height={floor - top} fill={i === 0 ? '#8a93a3' : '#2f5fd0'} />
            <text x={x + slot * 0.35} y={top - 3} text-anchor="middle">
              {msText(bar.ms)}
            </text>
            <text x={x + slot * 0.35} y={floor + 14} text-anchor="middle">
              {bar.label}
            </text>
          </g>
        );
      })}
      <text x={4} y={PAD.top + 10}>
        ms (log)
      </text>
    </svg>
  );
}

/** Best latency so far against samples spent: how a search converged. */
export function BestAgainstSamples(props: { points: Array<{ sample: number; bestMs: number }>; budget: number }) {
  if (props.points.length === 0) return <p class="muted">Nothing measured yet.</p>;
  const y = logScale(props.points.map((p) => p.bestMs));
  const last = Math.max(props.budget, ...props.points.map((p) => p.sample), 1);
  const x = (sample: number) => PAD.left + (sample / last) * (WIDTH - PAD.left - PAD.right);
  const path = props.points
    .map((p, i) => {
      const prev = props.points[i - 1];
      // A step line: the best stays where it was until a faster sample arrives.
      return i === 0
        ? `M${x(p.sample)},${y(p.bestMs)}`
        : `L${x(p.sample)},${y(prev!.bestMs)} L${x(p.sample)},${y(p.bestMs)}`;
    })
    .join(' ');
  const first = props.points[0]!;
  const best = props.points.at(-1)!;
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="best latency against samples">
      <title>Best latency so far (ms, log scale) against samples</title>
      <line x1={PAD.left} y1={HEIGHT - PAD.bottom} x2={WIDTH - PAD.right} y2={HEIGHT - PAD.bottom} stroke="#8a93a3" />
      <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={HEIGHT - PAD.bottom} stroke="#8a93a3" />
      <path d={path} fill="none" stroke="#2f5fd0" stroke-width="2" />
      <text x={4} y={y(first.bestMs) + 4}>
        {msText(first.bestMs)} ms
      </text>
      <text x={4} y={y(best.bestMs) + 4}>
        {msText(best.bestMs)} ms
      </text>
      <text x={PAD.left} y={HEIGHT - 12}>
        0
      </text>
      <text x={WIDTH - PAD.right} y={HEIGHT - 12} text-anchor="end">
        {last} samples
      </text>
    </svg>
  );
}
