/*
 * Deliveries and failures per minute over the last hour, as an SVG of stacked bars (no chart
 * library): one bar a minute, delivered below, failed on top. The totals are also said in words.
 */
import type { ActivityView } from '../shapes.js';
import { timeOfDay } from '../format.js';

const WIDTH = 600;
const HEIGHT = 120;
const GAP = 2;

export function ActivityChart({ activity }: { activity: ActivityView }) {
  const minutes = activity.minutes;
  const delivered = minutes.reduce((n, m) => n + m.delivered, 0);
  const failed = minutes.reduce((n, m) => n + m.failed, 0);
  const peak = Math.max(1, ...minutes.map((m) => m.delivered + m.failed));
  const slot = WIDTH / Math.max(1, minutes.length);
  const scale = (n: number): number => (n / peak) * (HEIGHT - 4);
  const summary = `Last hour: ${delivered} delivered, ${failed} failed; busiest minute ${peak === 1 && delivered + failed === 0 ? 0 : peak} attempts.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} class="axis" />
        {minutes.map((m, i) => {
          const ok = scale(m.delivered);
          const bad = scale(m.failed);
          const x = i * slot + GAP / 2;
          const w = Math.max(1, slot - GAP);
          return (
            <g key={m.at}>
              <title>{`${timeOfDay(m.at)}: ${m.delivered} delivered, ${m.failed} failed`}</title>
              {ok > 0 && <rect class="delivered" x={x} y={HEIGHT - ok} width={w} height={ok} />}
              {bad > 0 && <rect class="failed" x={x} y={HEIGHT - ok - bad} width={w} height={bad} />}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span class="key delivered">{delivered} delivered</span>
        <span class="key failed">{failed} failed</span>
        {minutes.length > 0 && (
          <span class="span">
            {timeOfDay(minutes[0]!.at)} – {timeOfDay(minutes[minutes.length - 1]!.at + 60_000)}
          </span>
        )}
      </figcaption>
    </figure>
  );
}
