// What worker and office pages share about tasks: order, deadlines, labels.

import {h} from './dom.js';
import {t, tOr} from './i18n.js';
import * as api from './api.js';

export const SEVERITY_RANK = {critical: 0, high: 1, medium: 2, low: 3};
export const OPEN_STATES = ['open', 'escalated', 'acknowledged', 'on_site'];
export const OUTCOMES = ['safe', 'needs_help', 'hospitalized', 'false_alarm', 'deceased', 'other'];
export const ROUTINE_OUTCOMES = ['visited', 'not_home'];

// outcomesOf is what a task may be resolved with: a routine visit has its own.
export const outcomesOf = (task) => (task.kind === 'routine_visit' ? ROUTINE_OUTCOMES : OUTCOMES);

// due is the deadline a task is working towards: acknowledgement while
// nobody has it, resolution once someone does. A routine visit has neither
// to count down: nobody acknowledges a planned call, and its day (due_at)
// is shown as a date instead.
export function due(task) {
  if (task.kind === 'routine_visit') return null;
  if (task.state === 'open' || task.state === 'escalated') return {at: task.ack_due_at, label: 'countdown.ack'};
  if (task.state === 'acknowledged' || task.state === 'on_site') return {at: task.resolve_due_at, label: 'countdown.resolve'};
  return null;
}

// byUrgency orders tasks by severity, then by the nearest deadline.
export function byUrgency(a, b) {
  const s = (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9);
  if (s) return s;
  const da = due(a)?.at || a.opened_at;
  const db = due(b)?.at || b.opened_at;
  return new Date(da) - new Date(db);
}

export const ruleName = (rule) => tOr('rule.' + rule, rule);
export const stateName = (state) => tOr('state.' + state, state);
export const severityName = (sev) => tOr('severity.' + sev, sev);
export const outcomeName = (o) => tOr('outcome.' + o, o);

export function severityBadge(sev) {
  return h('span', {class: 'badge sev-' + sev}, severityName(sev));
}

// stateBadge names a task's state; a routine visit open is one to make, not
// one to acknowledge (待走访, not 待确认).
export function stateBadge(state, kind) {
  const name = kind === 'routine_visit' && state === 'open' ? t('state.routine_open') : stateName(state);
  return h('span', {class: 'badge state-' + state, 'data-state': state}, name);
}

// countdown is an element that app.js's ticker keeps counting down.
export function countdown(task) {
  const d = due(task);
  if (!d) return null;
  return h('span', {class: 'countdown', 'data-due': d.at, 'data-label': d.label});
}

// openTasks loads every task that is not closed (the API filters one state
// at a time), as far as the caller may see.
export async function openTasks(filter = {}) {
  const lists = await Promise.all(OPEN_STATES.map((state) => api.get('/api/v1/tasks' + api.query({...filter, state}))));
  return lists.flatMap((l) => l.tasks);
}
