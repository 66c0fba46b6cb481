// Hourly charts drawn as SVG, with no chart library: bars for counts and
// volumes, a line for power.

import {h, s} from './dom.js';
import * as i18n from './i18n.js';
import {t} from './i18n.js';

const W = 720;
const H = 170;
const M = {left: 46, right: 10, top: 12, bottom: 26};

// SERIES are the chart API's fields (GET /api/v1/households/{id}/charts).
export const SERIES = [
  {key: 'water_liters', label: 'chart.water', unit: 'chart.unit_l', kind: 'bar', digits: 1},
  {key: 'motion_events', label: 'chart.motion', unit: 'chart.unit_events', kind: 'bar', digits: 0},
  {key: 'door_openings', label: 'chart.door', unit: 'chart.unit_openings', kind: 'bar', digits: 0},
  {key: 'power_kwh', label: 'chart.power', unit: 'chart.unit_kwh', kind: 'line', digits: 2},
];

// hoursOf reads the hourly rows of a chart answer, oldest first.
export function hoursOf(data) {
  const rows = data?.hours || data?.Hours || [];
  return rows
    .map((r) => ({...r, at: new Date(r.hour || r.Hour || r.ts || r.time)}))
    .filter((r) => !Number.isNaN(r.at.getTime()))
    .sort((a, b) => a.at - b.at);
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// chart draws one series over the hours.
export function chart(series, hours) {
  const values = hours.map((r) => Number(r[series.key]) || 0);
  const total = values.reduce((a, b) => a + b, 0);
  // Counts get whole ticks: at least 0, 1, 2.
  const max = series.digits === 0 ? Math.max(2, niceMax(Math.max(0, ...values))) : niceMax(Math.max(0, ...values));
  const tick = (v) => i18n.number(v, Number.isInteger(v) ? 0 : Math.max(series.digits, 1));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const n = Math.max(hours.length, 1);
  const bw = pw / n;
  const y = (v) => M.top + ph - (v / max) * ph;
  const unit = t(series.unit);
  const title = t(series.label);
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart chart-' + series.key, role: 'img', 'aria-label': `${title}: ${i18n.number(total, series.digits)} ${unit}`});
  svg.append(s('title', {}, title));
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    svg.append(s('line', {x1: M.left, x2: W - M.right, y1: yy, y2: yy, class: 'grid'}));
    svg.append(s('text', {x: M.left - 6, y: yy + 4, class: 'axis', 'text-anchor': 'end'}, tick(max * f)));
  }
  const hourFmt = new Intl.DateTimeFormat(i18n.current(), {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'});
  const dayFmt = new Intl.DateTimeFormat(i18n.current(), {month: 'numeric', day: 'numeric'});
  hours.forEach((r, i) => {
    if (r.at.getHours() === 0) {
      const x = M.left + i * bw;
      svg.append(s('line', {x1: x, x2: x, y1: M.top, y2: M.top + ph, class: 'day'}));
      svg.append(s('text', {x: x + 3, y: H - 8, class: 'axis'}, dayFmt.format(r.at)));
    }
  });
  if (series.kind === 'bar') {
    values.forEach((v, i) => {
      if (v <= 0) return;
      const yy = y(v);
      svg.append(s('rect', {x: M.left + i * bw + bw * 0.1, y: yy, width: Math.max(bw * 0.8, 0.5), height: M.top + ph - yy, class: 'bar'},
        s('title', {}, `${hourFmt.format(hours[i].at)} — ${i18n.number(v, series.digits)} ${unit}`)));
    });
  } else if (values.length) {
    const pts = values.map((v, i) => `${(M.left + (i + 0.5) * bw).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(s('polyline', {points: pts, class: 'line'}));
    values.forEach((v, i) => {
      svg.append(s('rect', {x: M.left + i * bw, y: M.top, width: bw, height: ph, class: 'hit'},
        s('title', {}, `${hourFmt.format(hours[i].at)} — ${i18n.number(v, series.digits)} ${unit}`)));
    });
  }
  svg.append(s('line', {x1: M.left, x2: W - M.right, y1: M.top + ph, y2: M.top + ph, class: 'baseline'}));
  const days = Math.max(hours.length / 24, 1);
  return h('figure', {class: 'chart-box', 'data-series': series.key},
    h('figcaption', {}, h('strong', {}, title), ' ',
      h('span', {class: 'muted'}, t('chart.summary', {total: i18n.number(total, series.digits), avg: i18n.number(total / days, series.digits), unit}))),
    svg);
}

// charts draws every series of a chart answer.
export function charts(data) {
  const hours = hoursOf(data);
  if (!hours.length) return h('p', {class: 'empty'}, t('chart.none'));
  return h('div', {class: 'charts'}, SERIES.map((sr) => chart(sr, hours)));
}
