import type { ThermalSample } from './thermal.js';
import { decodeThrottle } from './thermal.js';
import { escapeXml } from './xml.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** Round tick steps (1, 2, 5 × 10^k) covering [lo, hi] with about `n` ticks. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toFixed(10)));
  return out;
}

interface Panel {
  label: string;
  unit: string;
  value: (s: ThermalSample) => number | undefined;
}

/**
 * A self-contained SVG (no scripts, no external references) with two panels over time: GPU temperature and
 * power draw, one line per GPU; red ticks along the top where a forbidden throttle reason was active.
 */
export function thermalSvg(
  samples: readonly ThermalSample[],
  o: { title?: string; width?: number; phases?: readonly { id: string; start: number; end: number }[] } = {},
): string {
  const W = o.width ?? 960;
  const panelH = 240;
  const m = { l: 64, r: 110, t: 48, gap: 56, b: 44 };
  const H = m.t + panelH * 2 + m.gap + m.b;
  const plotW = W - m.l - m.r;
  const t0 = samples.length ? Math.min(...samples.map((s) => s.t)) : 0;
  const tEnd = samples.length ? Math.max(...samples.map((s) => s.t)) : 1000;
  const xs = niceTicks(0, Math.max((tEnd - t0) / 1000, 1), 8);
  const xMax = xs[xs.length - 1]!;
  const x = (t: number) => m.l + ((t - t0) / 1000 / xMax) * plotW;
  const gpus = [...new Set(samples.map((s) => s.gpu))].sort((a, b) => a - b);
  const panels: Panel[] = [
    { label: 'GPU temperature', unit: '°C', value: (s) => s.tempC },
    { label: 'Power draw', unit: 'W', value: (s) => s.powerW },
  ];
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${m.l}" y="24" font-size="16" font-weight="bold">${escapeXml(o.title ?? 'GPU temperature and power during the smoke test')}</text>`);
  panels.forEach((p, pi) => {
    const top = m.t + pi * (panelH + m.gap);
    const vals = samples.map(p.value).filter((v): v is number => v !== undefined);
    const ys = niceTicks(vals.length ? Math.min(0, ...vals) : 0, vals.length ? Math.max(...vals) : 1, 5);
    const yMin = ys[0]!;
    const yMax = ys[ys.length - 1]!;
    const y = (v: number) => top + panelH - ((v - yMin) / (yMax - yMin || 1)) * panelH;
    parts.push(`<g class="panel" data-metric="${escapeXml(p.label)}">`);
    for (const [k, ph] of (o.phases ?? []).entries()) {
      const x0 = Math.max(m.l, x(ph.start));
      const x1 = Math.min(m.l + plotW, x(ph.end));
      if (!(x1 > x0)) continue;
      parts.push(
        `<rect x="${f(x0)}" y="${top}" width="${f(x1 - x0)}" height="${panelH}" fill="${k % 2 ? '#eef3fb' : '#f6f6f6'}"><title>${escapeXml(ph.id)}</title></rect>`,
      );
      if (pi === 0) parts.push(`<text x="${f(x0 + 3)}" y="${top + panelH - 6 - (k % 2) * 14}" font-size="10" fill="#555">${escapeXml(ph.id)}</text>`);
    }
    parts.push(`<rect x="${m.l}" y="${top}" width="${plotW}" height="${panelH}" fill="none" stroke="#444"/>`);
    for (const v of ys) {
      parts.push(`<line x1="${m.l}" x2="${m.l + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#ddd"/>`);
      parts.push(`<text x="${m.l - 6}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`);
    }
    for (const v of xs) {
      const xv = m.l + (v / xMax) * plotW;
      parts.push(`<line x1="${f(xv)}" x2="${f(xv)}" y1="${top + panelH}" y2="${top + panelH + 4}" stroke="#444"/>`);
      parts.push(`<text x="${f(xv)}" y="${top + panelH + 16}" text-anchor="middle">${v}</text>`);
    }
    parts.push(`<text x="${m.l}" y="${top - 8}" font-weight="bold">${escapeXml(`${p.label} (${p.unit})`)}</text>`);
    gpus.forEach((g, gi) => {
      const pts = samples.filter((s) => s.gpu === g && p.value(s) !== undefined).sort((a, b) => a.t - b.t);
      if (!pts.length) return;
      const d = pts.map((s, k) => `${k ? 'L' : 'M'}${f(x(s.t))},${f(y(p.value(s)!))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${COLORS[gi % COLORS.length]}" stroke-width="1.5"><title>GPU ${g}</title></path>`);
    });
    if (pi === 0) {
      for (const s of samples) {
        if (s.reasons && decodeThrottle(s.reasons).bad.length) {
          parts.push(
            `<rect x="${f(x(s.t) - 1)}" y="${top}" width="2" height="8" fill="#e00"><title>GPU ${s.gpu}: ${escapeXml(decodeThrottle(s.reasons).bad.join(', '))}</title></rect>`,
          );
        }
      }
    }
    parts.push('</g>');
  });
  parts.push(`<text x="${m.l + plotW / 2}" y="${H - 8}" text-anchor="middle">seconds since the first sample</text>`);
  gpus.forEach((g, gi) => {
    const ly = m.t + 10 + gi * 18;
    parts.push(`<line x1="${W - m.r + 14}" x2="${W - m.r + 38}" y1="${ly}" y2="${ly}" stroke="${COLORS[gi % COLORS.length]}" stroke-width="3"/>`);
    parts.push(`<text x="${W - m.r + 44}" y="${ly + 4}">GPU ${g}</text>`);
  });
  if (!samples.length) parts.push(`<text x="${m.l + 12}" y="${m.t + 24}">no samples</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();
