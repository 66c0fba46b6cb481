// Strings in zh-CN and en (static/i18n/*.json), dates and numbers in the
// same language. The language comes from the browser unless the user chose
// one with the switch, which is remembered in localStorage.

export const LANGS = ['zh-CN', 'en'];
const KEY = 'eldersafe.lang';

let lang = 'zh-CN';
let table = {};
const cache = {};

// detect picks the user's choice, else the browser's first language we have
// (any Chinese → zh-CN), else English.
export function detect() {
  const chosen = localStorage.getItem(KEY);
  if (LANGS.includes(chosen)) return chosen;
  for (const l of navigator.languages || [navigator.language]) {
    if (/^zh\b/i.test(l)) return 'zh-CN';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

export async function load(l, remember) {
  if (!LANGS.includes(l)) l = 'en';
  if (!cache[l]) {
    const res = await fetch(`/static/i18n/${l}.json`, {cache: 'no-cache'});
    cache[l] = await res.json();
  }
  table = cache[l];
  lang = l;
  document.documentElement.lang = l;
  if (remember) localStorage.setItem(KEY, l);
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export const current = () => lang;

// t looks a string up and fills its {placeholders}; an unknown key shows as itself.
export function t(key, params) {
  let str = table[key] ?? key;
  if (params) str = str.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m));
  return str;
}

// tOr looks key up, or shows fallback (a rule or state the tables lack).
export function tOr(key, fallback) {
  return key in table ? table[key] : fallback;
}

export function time(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(lang, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'}).format(new Date(iso));
}

// dateTime formats a moment; with timeZone (a household's), in that zone
// and naming it, so that an office in another zone reads the resident's
// local time.
export function dateTime(iso, timeZone) {
  if (!iso) return '—';
  if (!timeZone) return new Intl.DateTimeFormat(lang, {dateStyle: 'medium', timeStyle: 'short'}).format(new Date(iso));
  try {
    return new Intl.DateTimeFormat(lang, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone, timeZoneName: 'short'}).format(new Date(iso));
  } catch {
    return dateTime(iso); // a zone this browser does not know
  }
}

// day is the calendar day (YYYY-MM-DD, a date input's value) of a moment
// in timeZone, the browser's without one.
export function day(at, timeZone) {
  return new Intl.DateTimeFormat('en-CA', {timeZone, year: 'numeric', month: '2-digit', day: '2-digit'}).format(new Date(at));
}

// dayEnd is 23:59 of a day (YYYY-MM-DD) in timeZone, as an RFC 3339 time:
// "visit by the 19th" in the resident's zone, whatever the phone's.
export function dayEnd(day, timeZone) {
  const [y, m, d] = day.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d, 23, 59);
  // The zone's offset then: its wall clock at guess, read as UTC, less guess.
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric'})
    .formatToParts(guess).map((x) => [x.type, Number(x.value)]));
  return new Date(2 * guess - Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute)).toISOString();
}

// duration says how long ms is in words: "6 h 5 min", "6小时5分钟"; whole
// days drop the minutes.
export function duration(ms) {
  const mins = Math.round(Math.abs(ms) / 60000);
  const d = Math.floor(mins / 1440);
  const hh = Math.floor((mins % 1440) / 60);
  const m = mins % 60;
  const parts = [];
  if (d) parts.push(t('dur.d', {n: d}));
  if (hh) parts.push(t('dur.h', {n: hh}));
  if (m && !d) parts.push(t('dur.m', {n: m}));
  if (!parts.length) parts.push(t('dur.m', {n: 0}));
  return parts.join(lang === 'en' ? ' ' : '');
}

// byNumbers compares ids and names as people count: h2 before h10.
export const byNumbers = new Intl.Collator(undefined, {numeric: true}).compare;

// ago says how long before now iso was: "5 minutes ago".
export function ago(iso, now) {
  if (!iso) return t('time.never');
  const secs = Math.round((new Date(iso).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(lang, {numeric: 'auto'});
  const abs = Math.abs(secs);
  if (abs < 60) return rtf.format(secs, 'second');
  if (abs < 3600) return rtf.format(Math.round(secs / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(secs / 3600), 'hour');
  return rtf.format(Math.round(secs / 86400), 'day');
}

// clock formats a duration as h:mm:ss (or m:ss under an hour); days are
// spelt out.
export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  const hms = hh > 0 || d > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
  return d > 0 ? t('time.days', {n: d}) + ' ' + hms : hms;
}

// seconds formats a number of seconds for the SLA report: "4m 12s".
export function seconds(s) {
  if (s == null) return '—';
  const n = Math.round(s);
  if (n < 60) return t('time.s', {n});
  if (n < 3600) return t('time.ms', {m: Math.floor(n / 60), s: n % 60});
  return t('time.hm', {h: Math.floor(n / 3600), m: Math.floor((n % 3600) / 60)});
}

export function number(v, digits = 1) {
  return new Intl.NumberFormat(lang, {maximumFractionDigits: digits}).format(v);
}
