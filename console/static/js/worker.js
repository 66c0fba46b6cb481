// The grid worker's pages, made for a phone: the open tasks to go to, most
// urgent first, and one task with everything needed at the door and large
// buttons to acknowledge, check in and resolve.

import * as api from './api.js';
import {h, debounce} from './dom.js';
import * as i18n from './i18n.js';
import {t, tOr} from './i18n.js';
import * as tk from './tasks.js';

// REASONS a false alarm may be resolved with (feedback.Reasons).
const REASONS = ['was_out', 'slept_late', 'visitor', 'sensor_fault', 'other'];

// myTasks lists the open tasks of the caller's grids: their own first, then
// the others that need someone (escalated, unassigned, a colleague's).
export function myTasks(root, _params, app) {
  const mine = h('section', {class: 'task-list', id: 'mine', 'aria-live': 'polite'});
  const others = h('section', {class: 'task-list', id: 'others'});
  // The month's planned calls, apart from the alarms: today's, the week's, then the rest of the month's.
  const routine = h('section', {class: 'task-list', id: 'routine'});
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const fresh = new Set();
  let shown = '';
  root.append(
    h('h1', {}, t('worker.title')),
    error,
    mine,
    h('h2', {class: 'others-title'}, t('worker.others')),
    others,
    routine,
  );
  let disposed = false;

  async function load() {
    try {
      const tasks = await tk.openTasks();
      await Promise.all([...new Set(tasks.map((x) => x.household_id))].map(app.household));
      if (disposed) return;
      error.hidden = true;
      const me = app.me.worker_id;
      const own = tasks.filter((x) => me && x.assignee_id === me).sort(tk.byUrgency);
      const rest = tasks
        .filter((x) => !(me && x.assignee_id === me))
        .filter((x) => app.me.role === 'grid_worker' || x.state === 'escalated' || !x.assignee_id)
        .sort(tk.byUrgency);
      // A live update that changed nothing on a card (a notice delivered,
      // a timeline entry) leaves the list alone, so a card is never swapped
      // under the finger that is tapping it.
      const sig = JSON.stringify([own, rest].map((list) => list.map((x) => [
        x.id, x.state, x.severity, x.rule, x.assignee_id, x.ack_due_at, x.resolve_due_at, fresh.has(x.id),
        app.households.get(x.household_id)?.name, app.households.get(x.household_id)?.address,
      ])));
      if (sig === shown) return;
      shown = sig;
      mine.replaceChildren(...(own.length ? own.map((x) => card(x)) : [h('p', {class: 'empty'}, t('worker.none'))]));
      others.replaceChildren(...(rest.length ? rest.map((x) => card(x)) : [h('p', {class: 'empty'}, t('worker.none_others'))]));
      app.tick();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
    loadRoutine();
  }

  async function loadRoutine() {
    try {
      const now = app.now();
      const week = new Date(now + 7 * 24 * 3600 * 1000);
      const endOfDay = new Date(now);
      endOfDay.setHours(24, 0, 0, 0);
      const endOfMonth = new Date(now);
      endOfMonth.setMonth(endOfMonth.getMonth() + 1, 1);
      endOfMonth.setHours(0, 0, 0, 0);
      const until = new Date(Math.max(week, endOfMonth));
      const me = app.me.worker_id;
      const visits = (await tk.openTasks({kind: 'routine_visit', due_before: until.toISOString()}))
        .filter((x) => app.me.role !== 'grid_worker' || !me || !x.assignee_id || x.assignee_id === me)
        .sort((a, b) => new Date(a.due_at) - new Date(b.due_at));
      await Promise.all([...new Set(visits.map((x) => x.household_id))].map(app.household));
      if (disposed) return;
      const due = (x) => new Date(x.due_at);
      const today = visits.filter((x) => due(x) < endOfDay);
      const thisWeek = visits.filter((x) => due(x) >= endOfDay && due(x) < week);
      const later = visits.filter((x) => due(x) >= week);
      const group = (key, list) => list.length ? [h('h3', {'data-routine': key.slice('routine.'.length)}, t(key)), ...list.map((x) => routineCard(x))] : [];
      routine.replaceChildren(h('h2', {}, t('routine.title')),
        ...(visits.length ? [...group('routine.today', today), ...group('routine.week', thisWeek), ...group('routine.month', later)] : [h('p', {class: 'empty'}, t('routine.none'))]));
    } catch (err) {
      routine.replaceChildren(h('h2', {}, t('routine.title')), h('p', {class: 'error'}, err.message));
    }
  }

  function routineCard(task) {
    const hh = app.households.get(task.household_id) || {name: task.household_id, address: ''};
    return h('article', {class: ['task-card', 'routine'], 'data-task-id': task.id, 'data-state': task.state, tabindex: 0, role: 'link',
      onclick: () => app.navigate('#/tasks/' + encodeURIComponent(task.id))},
    h('div', {class: 'task-head'}, h('strong', {class: 'rule'}, tk.ruleName(task.rule)), ' ', h('span', {class: 'muted'}, t('routine.due', {at: i18n.dateTime(task.due_at)}))),
    h('div', {class: 'task-who'}, h('span', {class: 'name'}, hh.name), ' ', h('span', {class: 'address'}, hh.address)),
    h('div', {class: 'task-meta'}, tk.stateBadge(task.state, task.kind)));
  }

  function card(task) {
    const hh = app.households.get(task.household_id) || {name: task.household_id, address: ''};
    const canAck = app.canAct() && (task.state === 'open' || task.state === 'escalated');
    const el = h('article', {
      class: ['task-card', 'sev-' + task.severity, fresh.has(task.id) && 'fresh'],
      'data-task-id': task.id,
      'data-state': task.state,
      tabindex: 0,
      role: 'link',
      onclick: () => app.navigate('#/tasks/' + encodeURIComponent(task.id)),
      onkeydown: (e) => e.key === 'Enter' && e.target === el && app.navigate('#/tasks/' + encodeURIComponent(task.id)),
    },
    h('div', {class: 'task-head'}, tk.severityBadge(task.severity), h('strong', {class: 'rule'}, tk.ruleName(task.rule)), tk.countdown(task)),
    h('div', {class: 'task-who'}, h('span', {class: 'name'}, hh.name), ' ', h('span', {class: 'address'}, hh.address)),
    h('div', {class: 'task-meta'}, tk.stateBadge(task.state),
      task.assignee_id && task.assignee_id !== app.me.worker_id ? h('span', {class: 'assignee'}, t('task.assigned_to', {id: app.workerName(task.assignee_id)})) : null),
    canAck ? h('button', {class: 'big primary', type: 'button', 'data-action': 'ack', onclick: (e) => {
      e.stopPropagation();
      act(e.currentTarget, () => api.post(`/api/v1/tasks/${encodeURIComponent(task.id)}/ack`, {worker_id: app.me.worker_id}), load);
    }}, t('action.ack')) : null,
    );
    return el;
  }

  const reload = debounce(load, 200);
  load();
  return {
    onTask(change) {
      // A routine visit scheduled is no news to announce: it joins the list below.
      if (change.event === 'opened' && change.task.kind !== 'routine_visit') {
        fresh.add(change.task.id);
        const hh = app.households.get(change.task.household_id);
        const msg = t('worker.new_task', {rule: tk.ruleName(change.task.rule), name: hh ? hh.name : change.task.household_id});
        app.announce(msg);
        app.toast(msg, change.task.severity === 'critical' ? 'alert' : 'info');
        navigator.vibrate?.([200, 100, 200]);
      }
      reload();
    },
    onResync: reload,
    dispose() {
      disposed = true;
      reload.cancel();
    },
  };
}

// act runs an action from a button: disabled while it runs, the API's
// message shown if it is refused, then done().
async function act(button, fn, done, errorEl) {
  button.disabled = true;
  try {
    await fn();
    await done?.();
  } catch (err) {
    if (errorEl) {
      errorEl.textContent = err.message;
      errorEl.hidden = false;
    } else {
      alertToast(err.message);
    }
  } finally {
    button.disabled = false;
  }
}

function alertToast(msg) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.className = 'toast error';
  el.hidden = false;
}

// refocus focuses the control of body named as was, a control a re-render
// replaced, with was's caret or selection.
function refocus(body, was) {
  const again = body.querySelector(`[name="${CSS.escape(was.name)}"]`);
  if (!again) return;
  again.focus();
  if (typeof was.selectionStart === 'number' && typeof again.selectionStart === 'number') {
    again.setSelectionRange(was.selectionStart, was.selectionEnd);
  }
}

// keepForm remembers what a person typed, chose and opened inside body, so
// that a re-render by a live update puts it back: an office's hand-over half
// filled in stays open with its worker chosen when the family's SMS goes out.
function keepForm(body) {
  const values = new Map();
  const open = new Set();
  const remember = (e) => {
    if (e.target.name) values.set(e.target.name, e.target.value);
  };
  body.addEventListener('input', remember);
  body.addEventListener('change', remember);
  // toggle does not bubble.
  body.addEventListener('toggle', (e) => {
    if (e.target.open) open.add(e.target.className);
    else open.delete(e.target.className);
  }, true);
  return {
    restore() {
      for (const [name, value] of values) {
        const field = body.querySelector(`[name="${CSS.escape(name)}"]`);
        // A worker no longer offered (the task moved to them) is not chosen.
        if (!field || (field.tagName === 'SELECT' && ![...field.options].some((o) => o.value === value))) continue;
        field.value = value;
      }
      for (const d of body.querySelectorAll('details')) {
        if (open.has(d.className)) d.open = true;
      }
    },
    clear() {
      values.clear();
      open.clear();
    },
  };
}

// taskDetail shows one task: who and where, what the sensors saw (with a
// map link for a wristband's position), the timeline, and the next step.
export function taskDetail(root, [id], app) {
  const body = h('div', {class: 'task-detail'});
  root.append(h('p', {class: 'back'}, h('a', {href: app.isOffice() ? '#/board' : '#/tasks'}, '← ' + t('nav.back'))), body);
  let disposed = false;
  // What the worker chose and wrote survives a re-render (a live update).
  const kept = keepForm(body);
  let outcome = null;
  let shown = '';
  // Whom the task may go to is who is registered now, not at log-in.
  const workersLoaded = app.loadWorkers().catch(() => {});

  async function load() {
    let task;
    try {
      task = await api.get('/api/v1/tasks/' + encodeURIComponent(id));
    } catch (err) {
      body.replaceChildren(h('p', {class: 'error', role: 'alert'}, err.message));
      return;
    }
    let hh = null;
    try {
      hh = await api.get('/api/v1/households/' + encodeURIComponent(task.household_id));
    } catch {
      hh = app.households.get(task.household_id) || null;
    }
    await workersLoaded;
    if (disposed) return;
    // A live update that changed nothing shown (the echo of the worker's
    // own action) leaves the page alone: no lost focus or half-typed note.
    const sig = JSON.stringify([task.state, task.assignee_id, task.outcome, task.evidence?.length, task.timeline?.length, hh?.name, hh?.address]);
    if (sig === shown) return;
    shown = sig;
    // The field the worker is typing in keeps the focus and the caret:
    // the keys typed next go on into it, not to the page.
    const typing = body.contains(document.activeElement) && document.activeElement.name ? document.activeElement : null;
    render(task, hh);
    kept.restore();
    if (typing) refocus(body, typing);
    app.tick();
  }

  function render(task, hh) {
    const error = h('p', {class: 'error', role: 'alert', hidden: true});
    const mine = app.me.worker_id && task.assignee_id === app.me.worker_id;
    const actions = h('div', {class: 'actions'});
    const post = (what, payload) => (e) =>
      act(e.currentTarget, () => api.post(`/api/v1/tasks/${encodeURIComponent(task.id)}/${what}`, payload()), afresh, error);

    const routine = task.kind === 'routine_visit';
    const waiting = task.state === 'open' || task.state === 'escalated';
    if (app.canAct() && waiting && !routine) {
      actions.append(h('button', {class: 'big primary', type: 'button', 'data-action': 'ack', onclick: post('ack', () => ({worker_id: app.me.worker_id}))}, t('action.ack')));
    }
    // A routine visit needs no acknowledgement: the worker at the door checks in.
    if ((mine && task.state === 'acknowledged') || (app.canAct() && routine && waiting)) {
      actions.append(h('button', {class: 'big primary', type: 'button', 'data-action': 'checkin', onclick: (e) => {
        const button = e.currentTarget;
        act(button, async () => {
          const pos = await position();
          const payload = {worker_id: app.me.worker_id};
          if (pos) Object.assign(payload, pos);
          await api.post(`/api/v1/tasks/${encodeURIComponent(task.id)}/checkin`, payload);
        }, afresh, error);
      }}, t('action.checkin')));
    }
    // A routine visit not yet made may move to another day: the worker's
    // own, or any by the office. The day is the resident's.
    if (routine && ['open', 'acknowledged', 'escalated'].includes(task.state) && (mine || app.isOffice())) {
      const zone = zoneOf(hh, app);
      const day = h('input', {type: 'date', name: 'due_day', min: i18n.day(app.now(), zone), max: i18n.day(app.now() + 30 * 86400000, zone),
        value: i18n.day(Math.max(new Date(task.due_at), app.now()), zone)});
      const why = h('input', {name: 'reschedule_reason', maxlength: 500, placeholder: t('reschedule.reason')});
      actions.append(h('details', {class: 'cancel reschedule'}, h('summary', {}, t('reschedule.title')),
        h('label', {}, t('reschedule.day'), day), h('label', {}, t('reschedule.reason'), why),
        h('button', {type: 'button', class: 'primary', 'data-action': 'reschedule',
          onclick: post('reschedule', () => ({due_at: day.value ? i18n.dayEnd(day.value, zone) : '', reason: why.value}))}, t('reschedule.submit'))));
    }
    if (mine && task.state === 'on_site') {
      const note = h('textarea', {name: 'note', rows: 3, maxlength: 2000, placeholder: t('resolve.note')});
      const resolve = h('button', {class: 'big primary', type: 'button', 'data-action': 'resolve', disabled: !outcome}, t('action.resolve'));
      // Why a false alarm was one: the office learns from it (suggestions).
      const reason = h('select', {name: 'reason'}, h('option', {value: ''}, t('reason.none')),
        REASONS.map((r) => h('option', {value: r}, t('reason.' + r))));
      const reasonBox = h('label', {class: 'reason', hidden: outcome !== 'false_alarm'}, t('reason.title'), reason);
      const choices = tk.outcomesOf(task).map((o) => h('button', {
        type: 'button', class: ['outcome', o === outcome && 'chosen', 'outcome-' + o], 'data-outcome': o, 'aria-pressed': String(o === outcome),
        onclick: (e) => {
          outcome = o;
          for (const b of choices) {
            b.classList.toggle('chosen', b === e.currentTarget);
            b.setAttribute('aria-pressed', String(b === e.currentTarget));
          }
          resolve.disabled = false;
          reasonBox.hidden = o !== 'false_alarm';
        },
      }, tk.outcomeName(o)));
      resolve.addEventListener('click', (e) => {
        if (!outcome) return;
        act(e.currentTarget, async () => {
          await api.post(`/api/v1/tasks/${encodeURIComponent(task.id)}/resolve`, {worker_id: app.me.worker_id, outcome, note: note.value,
            reason: outcome === 'false_alarm' && reason.value ? reason.value : undefined});
          outcome = null;
        }, afresh, error);
      });
      actions.append(h('fieldset', {class: 'resolve'}, h('legend', {}, t('resolve.title')), h('div', {class: 'outcomes'}, choices), reasonBox, note, resolve));
    }
    if (mine && ['acknowledged', 'on_site', 'escalated'].includes(task.state)) {
      // The worker passes their task to a colleague (called to another).
      const others = [...app.workers.values()].filter((w) => w.id !== app.me.worker_id && w.role !== 'operator');
      const to = h('select', {name: 'handover_to'}, others.map((w) => h('option', {value: w.id}, `${w.name} (${t('role.' + w.role)})`)));
      const why = h('input', {name: 'handover_reason', placeholder: t('reassign.reason')});
      actions.append(h('details', {class: 'cancel handover'}, h('summary', {}, t('reassign.title')),
        h('label', {}, t('reassign.to'), to), h('label', {}, t('reassign.reason'), why),
        h('button', {type: 'button', class: 'primary', 'data-action': 'handover', disabled: !others.length,
          onclick: post('handover', () => ({from_worker_id: app.me.worker_id, to_worker_id: to.value, reason: why.value}))}, t('reassign.submit'))));
    }
    if (app.isOffice() && !['resolved', 'cancelled'].includes(task.state)) {
      // The office moves the task to another worker (ill, far away).
      const others = [...app.workers.values()].filter((w) => w.id !== task.assignee_id && w.role !== 'operator' &&
        (!hh?.grid_id || w.role === 'supervisor' || w.grid_ids.includes(hh.grid_id)));
      const to = h('select', {name: 'to_worker_id'}, others.map((w) => h('option', {value: w.id}, `${w.name} (${t('role.' + w.role)})`)));
      const why = h('input', {name: 'reassign_reason', placeholder: t('reassign.reason')});
      actions.append(h('details', {class: 'cancel reassign'}, h('summary', {}, t('reassign.title')),
        h('label', {}, t('reassign.to'), to), h('label', {}, t('reassign.reason'), why),
        h('button', {type: 'button', class: 'primary', 'data-action': 'reassign', disabled: !others.length,
          onclick: post('reassign', () => ({to_worker_id: to.value, reason: why.value}))}, t('reassign.submit'))));
      const reason = h('input', {name: 'cancel_reason', placeholder: t('cancel.reason')});
      actions.append(h('details', {class: 'cancel'}, h('summary', {}, t('action.cancel')), reason,
        h('button', {type: 'button', class: 'danger', 'data-action': 'cancel', onclick: post('cancel', () => ({reason: reason.value}))}, t('action.cancel_confirm'))));
    }

    const contacts = (hh?.contacts || []).map((c) => h('li', {},
      `${c.name} (${tOr('relation.' + c.relation, c.relation)})`, ' ',
      c.phone ? h('a', {href: 'tel:' + c.phone, class: 'tel'}, c.phone)
        : c.redacted?.includes('phone') ? h('span', {class: 'muted'}, t('task.phone_withheld')) : null));

    body.replaceChildren(
      h('header', {class: ['task-title', 'sev-' + task.severity]},
        h('div', {}, tk.severityBadge(task.severity), ' ', tk.stateBadge(task.state, task.kind)),
        h('h1', {}, tk.ruleName(task.rule)),
        tk.countdown(task),
        routine ? h('p', {class: ['routine-due', waiting && new Date(task.due_at) < app.now() && 'overdue'], 'data-routine-due': task.due_at},
          t('routine.due_on', {at: i18n.dateTime(task.due_at, zoneOf(hh, app))})) : null,
        routine && waiting ? h('p', {class: 'muted', 'data-routine-hint': ''}, t('routine.hint')) : null),
      error,
      actions,
      h('section', {class: 'card'},
        h('h2', {}, t('task.who')),
        h('p', {class: 'name'}, hh?.name || task.household_id),
        hh?.address ? h('p', {class: 'address'}, hh.address) : null,
        contacts.length ? h('ul', {class: 'contacts'}, contacts) : null,
        h('p', {class: 'muted'}, t('task.opened_at', {at: i18n.dateTime(task.opened_at, zoneOf(hh, app))}),
          task.assignee_id ? ' · ' + t('task.assigned_to', {id: app.workerName(task.assignee_id)}) : ''),
        task.outcome ? h('p', {}, t('task.outcome', {o: tk.outcomeName(task.outcome)}), task.note ? ' — ' + task.note : '') : null),
      h('section', {class: 'card'}, h('h2', {}, t('task.evidence')), evidenceList(task, hh, app)),
      h('section', {class: 'card'}, h('h2', {}, t('task.timeline')), timeline(task, hh, app)),
    );
  }

  // After the person's own action succeeded, the page starts afresh: the
  // form they sent is done with, even if a live update redrew it first.
  function afresh() {
    kept.clear();
    shown = '';
    return load();
  }

  const reload = debounce(load, 150);
  load();
  return {
    onTask(change) {
      if (change.task.id === id) reload();
    },
    onResync: reload,
    dispose() {
      disposed = true;
      reload.cancel();
    },
  };
}

// position asks the phone where the worker is, for the check-in; nothing if
// they say no or it takes too long.
function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    const done = (v) => {
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => done(null), 5000);
    navigator.geolocation.getCurrentPosition(
      (p) => done({lat: p.coords.latitude, lon: p.coords.longitude}),
      () => done(null),
      {timeout: 5000, maximumAge: 60000, enableHighAccuracy: true},
    );
  });
}

// zoneOf is the time zone a household lives in: its own, else the
// monitor's configured location.
const zoneOf = (hh, app) => hh?.timezone || app.me?.timezone;

// evidenceText says what a piece of evidence shows in the reader's
// language, from the rule and the evidence's values; the engine's own
// summary (English) only where no phrase fits, and for a manual task,
// whose summary is what the office wrote.
function evidenceText(rule, ev, zone) {
  const v = ev.values || {};
  const key = 'evidence.' + rule;
  if (rule === 'manual' || tOr(key, null) === null) return ev.summary;
  const at = new Date(ev.at).getTime();
  const p = {};
  const since = v.since || v.flowing_since;
  if (since) {
    p.since = i18n.dateTime(since, zone);
    p.for = i18n.duration(at - new Date(since).getTime());
  }
  if (v.last_seen) {
    p.last_seen = i18n.dateTime(v.last_seen, zone);
    p.for = i18n.duration(at - new Date(v.last_seen).getTime());
  }
  if (v.battery_pct != null) p.pct = i18n.number(v.battery_pct, 0);
  if (v.used_kwh != null) p.kwh = i18n.number(v.used_kwh, 2);
  if (v.usual_wake) p.wake = v.usual_wake;
  const text = t(key, p);
  // A cleared condition or another shape of values: the phrase would show
  // a placeholder, so the summary it stands for is shown instead.
  return /\{\w+\}/.test(text) ? ev.summary : text;
}

function evidenceList(task, hh, app) {
  const evidence = task.evidence || [];
  if (!evidence.length) return h('p', {class: 'empty'}, t('task.no_evidence'));
  const devices = new Map((hh?.devices || []).map((d) => [d.id, d]));
  const deviceName = (id) => {
    const d = devices.get(id);
    return d ? [tOr('kind.' + d.kind, ''), d.location, id].filter(Boolean).join(' ') : id;
  };
  return h('ul', {class: 'evidence'}, evidence.map((ev) => {
    const values = ev.values || {};
    const lat = Number(values.lat);
    const lon = Number(values.lon);
    const hasPos = Number.isFinite(lat) && Number.isFinite(lon) && 'lat' in values && 'lon' in values;
    const shown = Object.entries(values).filter(([k]) => !['lat', 'lon', 'redacted'].includes(k));
    // Values the resident's privacy settings keep from the caller.
    const hidden = Array.isArray(values.redacted) ? values.redacted : [];
    return h('li', {},
      h('time', {datetime: ev.at}, i18n.dateTime(ev.at, zoneOf(hh, app))), ' ',
      ev.device_id ? h('span', {class: 'device'}, deviceName(ev.device_id)) : null, ' ',
      h('span', {class: 'summary'}, evidenceText(task.rule, ev, zoneOf(hh, app))),
      shown.length ? h('div', {class: 'values'}, shown.map(([k, v]) => h('span', {class: 'kv'}, `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`))) : null,
      hasPos ? mapLinks(lat, lon, values.accuracy_m) : null,
      hidden.length ? h('div', {class: 'muted redacted'}, t('task.redacted', {fields: hidden.join(', ')})) : null);
  }));
}

// mapLinks open the wristband's position in the phone's map app (geo: URI)
// or on OpenStreetMap: links to follow, nothing the console loads.
function mapLinks(lat, lon, accuracy) {
  const acc = Number.isFinite(Number(accuracy)) ? ' ±' + Math.round(accuracy) + ' m' : '';
  return h('div', {class: 'map'},
    h('a', {class: 'map-link', href: `geo:${lat},${lon}?q=${lat},${lon}`, 'data-map': 'geo'}, t('task.map_app')),
    ' ',
    h('a', {class: 'map-link', href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=18/${lat}/${lon}`, target: '_blank', rel: 'noopener noreferrer'}, t('task.map_web')),
    h('span', {class: 'muted'}, ` ${lat.toFixed(5)}, ${lon.toFixed(5)}${acc}`));
}

// timelineText words an entry in the reader's language from its data where
// the entry has any (names from the worker list); the monitor's message
// (English) only where it has none.
function timelineText(task, e, zone, app) {
  const d = e.data || {};
  const name = (id) => (id ? app.workerName(id) : '—');
  switch (e.type) {
    case 'opened':
    case 'evidence': {
      // The opening entry carries no values: they are the first evidence's.
      const first = e.type === 'opened' && !Object.keys(d).length ? task.evidence?.[0] : null;
      return evidenceText(task.rule, first || {at: e.at, summary: e.message, values: d}, zone);
    }
    case 'acknowledged':
    case 'checked_in':
      return '';
    case 'resolved':
      return d.outcome ? tOr('outcome.' + d.outcome, d.outcome) : e.message;
    case 'handed_over':
      return t('tl.handed_over', {from: name(d.from_worker_id), to: name(d.to_worker_id), reason: d.reason || ''});
    case 'cancelled':
      return d.reason ?? e.message;
    case 'rescheduled':
      return t(d.reason ? 'tl.rescheduled_reason' : 'tl.rescheduled', {from: i18n.dateTime(d.from_due_at, zone), to: i18n.dateTime(d.due_at, zone), reason: d.reason});
    case 'escalated': {
      if (!d.due_at) return e.message;
      const to = (d.escalated_to || []).map(name).join(i18n.current() === 'en' ? ', ' : '、') || t('tl.nobody');
      return t(d.deadline === 'resolve' ? 'tl.escalated_resolve' : 'tl.escalated_ack', {due: i18n.dateTime(d.due_at, zone), to});
    }
    case 'notice':
    case 'notice_failed':
    case 'notice_skipped':
    case 'notice_deferred':
      return d.channel ? t('tl.notice', {channel: tOr('channel.' + d.channel, d.channel), recipient: d.recipient || ''}) : e.message;
  }
  return e.message;
}

function timeline(task, hh, app) {
  return h('ol', {class: 'timeline'}, (task.timeline || []).map((e) => {
    const text = timelineText(task, e, zoneOf(hh, app), app);
    return h('li', {class: 'tl-' + e.type},
      h('time', {datetime: e.at}, i18n.dateTime(e.at, zoneOf(hh, app))), ' ',
      h('strong', {}, tOr('timeline.' + e.type, e.type)), ' ',
      h('span', {class: 'actor'}, e.actor === 'system' ? '' : app.workerName(e.actor)), text ? ' — ' + text : '');
  }));
}
