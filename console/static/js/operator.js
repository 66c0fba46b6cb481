// The office's pages: the task board, households with their devices' live
// state, one household (thresholds, away periods, charts), the CSV import
// and the SLA report.

import * as api from './api.js';
import {h, debounce} from './dom.js';
import * as i18n from './i18n.js';
import {t, tOr} from './i18n.js';
import * as tk from './tasks.js';
import {charts} from './charts.js';
import {CARE_LEVELS, householdEditor, privacyEditor} from './office.js';

const kindName = (k) => tOr('kind.' + k, k);

// ---- task board ---------------------------------------------------------

export function board(root, _params, app) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const cols = Object.fromEntries(tk.OPEN_STATES.map((s) => [s, h('div', {class: 'column-body'})]));
  const closed = h('div', {class: 'column-body'});
  const fresh = new Set();
  root.append(
    h('h1', {}, t('board.title')),
    error,
    h('div', {class: 'board'},
      ['escalated', 'open', 'acknowledged', 'on_site'].map((s) => h('section', {class: 'column', 'data-column': s},
        h('h2', {}, tk.stateName(s), ' ', h('span', {class: 'count', 'data-count': s})), cols[s])),
      h('section', {class: 'column closed', 'data-column': 'closed'}, h('h2', {}, t('board.closed')), closed)),
  );
  let disposed = false;

  async function load() {
    try {
      const [open, resolved, cancelled] = await Promise.all([
        tk.openTasks(),
        api.get('/api/v1/tasks?state=resolved&limit=10'),
        api.get('/api/v1/tasks?state=cancelled&limit=5'),
      ]);
      const done = [...resolved.tasks, ...cancelled.tasks].sort((a, b) => new Date(b.closed_at || b.opened_at) - new Date(a.closed_at || a.opened_at));
      await Promise.all([...new Set([...open, ...done].map((x) => x.household_id))].map(app.household));
      if (disposed) return;
      error.hidden = true;
      for (const s of tk.OPEN_STATES) {
        const list = open.filter((x) => x.state === s).sort(tk.byUrgency);
        cols[s].replaceChildren(...list.map(card));
        const count = root.querySelector(`[data-count="${s}"]`);
        if (count) count.textContent = `(${list.length})`;
      }
      closed.replaceChildren(...done.map(card));
      app.tick();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  function card(task) {
    const hh = app.households.get(task.household_id) || {name: task.household_id};
    return h('a', {class: ['board-card', 'sev-' + task.severity, fresh.has(task.id) && 'fresh'], href: '#/tasks/' + encodeURIComponent(task.id), 'data-task-id': task.id},
      h('div', {class: 'task-head'}, tk.severityBadge(task.severity), h('strong', {}, tk.ruleName(task.rule))),
      h('div', {}, hh.name),
      h('div', {class: 'muted'}, task.assignee_id ? t('task.assigned_to', {id: app.workerName(task.assignee_id)}) : t('task.unassigned')),
      task.outcome ? h('div', {class: 'muted'}, tk.outcomeName(task.outcome)) : tk.countdown(task));
  }

  const reload = debounce(load, 200);
  load();
  return {
    onTask(change) {
      if (change.event === 'opened') {
        fresh.add(change.task.id);
        app.announce(t('worker.new_task', {rule: tk.ruleName(change.task.rule), name: app.households.get(change.task.household_id)?.name || change.task.household_id}));
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

// ---- households -----------------------------------------------------------

// deviceChip says how a device is: online, offline or never heard, and when
// it last spoke.
function deviceChip(d) {
  const seen = d.last_seen || d.status?.last_seen || null;
  const online = d.status ? d.status.online : d.online;
  const state = !seen ? 'never' : online ? 'online' : 'offline';
  return h('span', {class: ['chip', state], 'data-device': d.id, 'data-device-state': state, title: `${d.id}: ${t('device.' + state)}${seen ? ' · ' + i18n.dateTime(seen) : ''}`},
    h('span', {class: 'dot', 'aria-hidden': 'true'}), kindName(d.kind), ' ', h('span', {class: 'device-id'}, d.location || d.id), ' ',
    seen ? h('span', {class: 'ago', 'data-ago': seen}) : h('span', {class: 'ago'}, t('device.never')));
}

export function households(root, _params, app) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const search = h('input', {type: 'search', name: 'q', placeholder: t('households.search')});
  const grid = h('select', {name: 'grid'}, h('option', {value: ''}, t('households.all_grids')));
  const tbody = h('tbody');
  const counts = new Map();
  let list = [];
  root.append(
    h('h1', {}, t('households.title')),
    h('div', {class: 'filters'}, search, grid),
    error,
    h('div', {class: 'table-wrap'}, h('table', {class: 'households'},
      h('thead', {}, h('tr', {}, h('th', {}, t('households.name')), h('th', {}, t('households.address')), h('th', {}, t('households.grid')),
        h('th', {}, t('households.devices')), h('th', {}, t('households.open_tasks')))),
      tbody)),
  );
  let disposed = false;

  function show() {
    const q = search.value.trim().toLowerCase();
    const g = grid.value;
    const rows = list.filter((hh) => (!g || hh.grid_id === g) && (!q || `${hh.id} ${hh.name} ${hh.address}`.toLowerCase().includes(q)));
    tbody.replaceChildren(...rows.map((hh) => h('tr', {'data-household-id': hh.id},
      h('td', {}, h('a', {href: '#/households/' + encodeURIComponent(hh.id)}, hh.name), h('div', {class: 'muted'}, hh.id)),
      h('td', {}, hh.address),
      h('td', {}, hh.grid_id),
      h('td', {}, h('div', {class: 'chips'}, hh.devices.length ? hh.devices.map(deviceChip) : h('span', {class: 'muted'}, t('households.no_devices')))),
      h('td', {class: 'num'}, counts.get(hh.id) ? h('span', {class: 'badge open-count'}, String(counts.get(hh.id))) : '0'))));
    if (!rows.length) tbody.append(h('tr', {}, h('td', {colspan: 5, class: 'empty'}, t('households.none'))));
    app.tick();
  }

  async function load() {
    try {
      const [res, open] = await Promise.all([api.get('/api/v1/households'), tk.openTasks()]);
      if (disposed) return;
      error.hidden = true;
      list = res.households.sort((a, b) => i18n.byNumbers(a.id, b.id));
      for (const hh of list) app.households.set(hh.id, {...app.households.get(hh.id), ...hh});
      counts.clear();
      for (const x of open) counts.set(x.household_id, (counts.get(x.household_id) || 0) + 1);
      const grids = [...new Set(list.map((hh) => hh.grid_id))].sort(i18n.byNumbers);
      const chosen = grid.value;
      grid.replaceChildren(h('option', {value: ''}, t('households.all_grids')), ...grids.map((g) => h('option', {value: g}, g)));
      grid.value = grids.includes(chosen) ? chosen : '';
      show();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  search.addEventListener('input', show);
  grid.addEventListener('change', show);
  const reload = debounce(load, 300);
  // Devices' state is not on the event stream: poll it.
  const poll = setInterval(load, 30000);
  load();
  return {
    onTask: reload,
    onResync: reload,
    dispose() {
      disposed = true;
      clearInterval(poll);
      reload.cancel();
    },
  };
}

// ---- one household --------------------------------------------------------

// careLevel shows a household's care level; the office changes it
// (PATCH), which brings the level's thresholds and routine visits.
function careLevel(hh, office, reload) {
  const level = hh.care_level || 'self_care';
  if (!office) return h('p', {id: 'care-level'}, t('care.title'), ': ', h('strong', {}, t('care.' + level)));
  const msg = h('span', {class: 'muted', role: 'status'});
  const select = h('select', {name: 'care_level', 'data-action': 'care-level', onchange: async () => {
    select.disabled = true;
    try {
      await api.patch('/api/v1/households/' + encodeURIComponent(hh.id), {care_level: select.value});
      await reload();
    } catch (err) {
      msg.textContent = err.message;
      select.disabled = false;
    }
  }}, CARE_LEVELS.map((l) => h('option', {value: l, selected: l === level}, t('care.' + l))));
  return h('p', {id: 'care-level'}, h('label', {}, t('care.title'), ': ', select), ' ', msg);
}

// PARAMS orders the threshold parameters and gives their units, as rules.Table
// in rules/table.go does (TestThresholdParams holds them together).
const PARAMS = [
  ['water_no_use', 'hours', 'hours'],
  ['water_continuous_flow', 'hours', 'hours'],
  ['no_motion', 'hours', 'hours'],
  ['no_motion', 'window', 'window'],
  ['no_exit', 'hours', 'hours'],
  ['power_no_use', 'hours', 'hours'],
  ['power_no_use', 'floor_kwh', 'kwh'],
  ['unusual_quiet', 'factor', 'factor'],
  ['unusual_quiet', 'min_hours', 'hours'],
  ['late_wake', 'margin', 'minutes'],
  ['device_offline', 'hours', 'hours'],
  ['device_offline', 'wristband_hours', 'hours'],
  ['battery_low', 'pct', 'percent'],
];

export function household(root, [id], app) {
  const body = h('div', {class: 'household'});
  root.append(h('p', {class: 'back'}, h('a', {href: '#/households'}, '← ' + t('nav.households'))), body);
  let disposed = false;
  const chartBox = h('section', {class: 'card', id: 'charts'}, h('h2', {}, t('charts.title')), h('p', {class: 'muted'}, t('app.loading')));
  const tasksBox = h('section', {class: 'card', id: 'household-tasks'});
  const devicesBox = h('section', {class: 'card', id: 'devices'});
  const office = app.isOffice();

  async function load() {
    let hh;
    try {
      hh = await api.get('/api/v1/households/' + encodeURIComponent(id));
    } catch (err) {
      body.replaceChildren(h('p', {class: 'error', role: 'alert'}, err.message));
      return;
    }
    if (disposed) return;
    body.replaceChildren(
      h('h1', {}, hh.name),
      h('p', {class: 'muted'}, [hh.address, hh.grid_id && t('households.grid') + ' ' + hh.grid_id, hh.id].filter(Boolean).join(' · ')),
      careLevel(hh, office, load),
      devicesBox,
      tasksBox,
      office && hh.thresholds ? thresholdEditor(hh) : null,
      hh.away ? awayEditor(hh) : null,
      chartBox,
      // The office's records: only an operator edits them (the API says so too).
      ['operator', 'admin'].includes(app.me.role) ? h('div', {class: 'office-records'}, privacyEditor(hh, app, load), householdEditor(hh, app, load),
        h('p', {}, h('a', {href: '#/office/device/' + encodeURIComponent(hh.id)}, t('office.add_device')))) : '',
    );
    renderDevices(hh);
    loadTasks();
    loadCharts();
  }

  async function reloadDevices() {
    try {
      const hh = await api.get('/api/v1/households/' + encodeURIComponent(id));
      if (!disposed) renderDevices(hh);
    } catch {
      // shown at the next full load
    }
  }

  function renderDevices(hh) {
    const rows = (hh.devices || []).map((d) => {
      const st = d.status;
      const state = !st ? 'never' : st.online ? 'online' : 'offline';
      return h('tr', {'data-device': d.id},
        h('td', {}, kindName(d.kind), d.location ? ' · ' + d.location : '', h('div', {class: 'muted'}, d.id)),
        h('td', {}, h('span', {class: ['chip', state], 'data-device-state': state}, h('span', {class: 'dot', 'aria-hidden': 'true'}), t('device.' + state))),
        h('td', {}, st ? [i18n.dateTime(st.last_seen), h('div', {class: 'muted', 'data-ago': st.last_seen})] : t('device.never')),
        h('td', {class: 'num'}, st?.battery_pct != null ? i18n.number(st.battery_pct, 0) + '%' : '—'),
        h('td', {}, st?.last ? h('div', {class: 'values'}, Object.entries(st.last).map(([k, v]) => h('span', {class: 'kv'}, `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`))) : '—'));
    });
    // Sensor health: whether the welfare rules can watch this home at all.
    const mon = hh.monitoring ? h('p', {class: 'monitoring', 'data-monitoring': hh.monitoring},
      h('span', {class: ['badge', 'monitoring-' + hh.monitoring]}, t('monitoring.' + hh.monitoring)),
      hh.stale_signals?.length ? h('span', {class: 'muted'}, ' ' + t('monitoring.stale') + ': ' + hh.stale_signals.map((s) => tOr('signal.' + s, s)).join(', ')) : null) : null;
    devicesBox.replaceChildren(h('h2', {}, t('devices.title')), mon,
      rows.length ? h('div', {class: 'table-wrap'}, h('table', {},
        h('thead', {}, h('tr', {}, ['devices.device', 'devices.state', 'devices.last_seen', 'devices.battery', 'devices.last'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, rows))) : h('p', {class: 'empty'}, t('households.no_devices')));
    app.tick();
  }

  async function loadTasks() {
    try {
      const tasks = (await tk.openTasks({household_id: id})).sort(tk.byUrgency);
      if (disposed) return;
      tasksBox.replaceChildren(h('h2', {}, t('household.open_tasks')),
        tasks.length ? h('ul', {class: 'plain'}, tasks.map((x) => h('li', {},
          h('a', {href: '#/tasks/' + encodeURIComponent(x.id)}, tk.severityBadge(x.severity), ' ', tk.ruleName(x.rule)), ' ', tk.stateBadge(x.state, x.kind), ' ', tk.countdown(x))))
          : h('p', {class: 'empty'}, t('household.no_open_tasks')));
      app.tick();
    } catch (err) {
      tasksBox.replaceChildren(h('h2', {}, t('household.open_tasks')), h('p', {class: 'error'}, err.message));
    }
  }

  async function loadCharts() {
    const title = h('h2', {}, t('charts.title'));
    try {
      const data = await api.get(`/api/v1/households/${encodeURIComponent(id)}/charts?days=7`);
      if (!disposed) chartBox.replaceChildren(title, charts(data));
    } catch (err) {
      if (!disposed) chartBox.replaceChildren(title, h('p', {class: 'muted'}, err.status === 404 || err.status === 405 ? t('charts.unavailable') : err.message));
    }
  }

  function thresholdEditor(hh) {
    const error = h('div', {class: 'error', role: 'alert', hidden: true, id: 'threshold-error'});
    const ok = h('p', {class: 'notice', role: 'status', hidden: true});
    const tbody = h('tbody');
    const save = h('button', {type: 'submit', class: 'primary', 'data-action': 'save-thresholds'}, t('thresholds.save'));
    const inputs = [];

    function rows(thresholds, overrides) {
      inputs.length = 0;
      const known = PARAMS.filter(([r, p]) => thresholds[r] && p in thresholds[r]);
      const extra = Object.entries(thresholds).flatMap(([r, ps]) => Object.keys(ps).filter((p) => !PARAMS.some(([r2, p2]) => r2 === r && p2 === p)).map((p) => [r, p, '']));
      tbody.replaceChildren(...[...known, ...extra].map(([rule, param, unit]) => {
        const over = overrides?.[rule]?.[param];
        const overridden = over !== undefined;
        const input = h('input', {
          name: `${rule}.${param}`, value: overridden ? String(over) : '', 'data-unit': unit,
          inputmode: unit === 'window' ? 'text' : 'decimal', placeholder: overridden ? t('thresholds.global') : String(thresholds[rule][param]),
          'aria-label': `${tk.ruleName(rule)} ${tOr('param.' + param, param)}`,
        });
        input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
        inputs.push(input);
        return h('tr', {class: overridden ? 'overridden' : '', 'data-param': `${rule}.${param}`},
          h('td', {}, tk.ruleName(rule)),
          h('td', {}, tOr('param.' + param, param), unit ? h('span', {class: 'muted'}, ' (' + tOr('unit.' + unit, unit) + ')') : null),
          h('td', {class: 'num effective'}, String(thresholds[rule][param])),
          h('td', {}, input));
      }));
    }

    const form = h('form', {class: 'card thresholds', id: 'thresholds', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      ok.hidden = true;
      const bodyObj = {};
      const local = [];
      for (const input of inputs) {
        input.removeAttribute('aria-invalid');
        const raw = input.value.trim();
        if (raw === '') continue;
        const [rule, param] = input.name.split('.');
        let v = raw;
        if (input.dataset.unit !== 'window') {
          v = Number(raw.replace(',', '.'));
          if (!Number.isFinite(v)) {
            local.push(t('thresholds.not_number', {param: input.name, value: raw}));
            input.setAttribute('aria-invalid', 'true');
            continue;
          }
        }
        (bodyObj[rule] ||= {})[param] = v;
      }
      if (local.length) {
        showErrors(local);
        return;
      }
      save.disabled = true;
      try {
        const res = await api.put(`/api/v1/households/${encodeURIComponent(id)}/thresholds`, bodyObj);
        rows(res.thresholds, res.overrides);
        ok.textContent = t('thresholds.saved');
        ok.hidden = false;
      } catch (err) {
        // The API names every parameter at fault ("water_no_use.hours: must be ...").
        const lines = err.message.split('\n').map((l) => l.trim()).filter(Boolean);
        for (const input of inputs) {
          if (lines.some((l) => l.includes(input.name))) input.setAttribute('aria-invalid', 'true');
        }
        showErrors(lines, err.status === 400 ? t('thresholds.refused') : null);
      } finally {
        save.disabled = false;
      }
    }},
    h('h2', {}, t('thresholds.title')),
    h('p', {class: 'muted'}, t('thresholds.help')),
    h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, t('thresholds.rule')), h('th', {}, t('thresholds.param')), h('th', {}, t('thresholds.effective')), h('th', {}, t('thresholds.household')))),
      tbody)),
    error, ok,
    h('div', {class: 'form-actions'}, save));

    function showErrors(lines, title) {
      error.replaceChildren(title ? h('strong', {}, title) : null, h('ul', {}, lines.map((l) => h('li', {}, l))));
      error.hidden = false;
    }
    rows(hh.thresholds, hh.overrides);
    return form;
  }

  function awayEditor(hh) {
    const error = h('p', {class: 'error', role: 'alert', hidden: true});
    const from = h('input', {type: 'datetime-local', name: 'from'});
    const until = h('input', {type: 'datetime-local', name: 'until'});
    const reason = h('input', {name: 'reason', placeholder: t('away.reason_hint')});
    const submit = h('button', {type: 'submit', class: 'primary', 'data-action': 'add-away'}, t('away.add'));
    const iso = (v) => (v ? new Date(v).toISOString() : '');
    return h('form', {class: 'card away', id: 'away', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      try {
        await api.post(`/api/v1/households/${encodeURIComponent(id)}/away`, {from: iso(from.value), until: iso(until.value), reason: reason.value});
        app.toast(t('away.added'));
        load();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    }},
    h('h2', {}, t('away.title')),
    hh.away.length ? h('ul', {class: 'plain away-list'}, hh.away.map((p) => h('li', {'data-away-id': p.id},
      `${i18n.dateTime(p.from)} – ${i18n.dateTime(p.until)}`, p.reason ? ' · ' + p.reason : '', ' ',
      // The resident is back early: welfare rules must watch again now.
      h('button', {type: 'button', class: 'link', 'data-action': 'end-away', onclick: async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        error.hidden = true;
        try {
          const ended = await api.del(`/api/v1/households/${encodeURIComponent(id)}/away/${encodeURIComponent(p.id)}`);
          app.toast(t(ended.removed ? 'away.removed' : 'away.ended'));
          load();
        } catch (err) {
          error.textContent = err.message;
          error.hidden = false;
          button.disabled = false;
        }
      }}, t('away.end')))))
      : h('p', {class: 'empty'}, t('away.none')),
    h('div', {class: 'row'}, h('label', {}, t('away.from'), from), h('label', {}, t('away.until'), until), h('label', {}, t('away.reason'), reason)),
    error,
    h('div', {class: 'form-actions'}, submit));
  }

  const reloadTasks = debounce(loadTasks, 200);
  const poll = setInterval(reloadDevices, 30000);
  load();
  return {
    onTask(change) {
      if (change.task.household_id === id) reloadTasks();
    },
    onResync: reloadTasks,
    dispose() {
      disposed = true;
      clearInterval(poll);
      reloadTasks.cancel();
    },
  };
}

// ---- CSV import -------------------------------------------------------------

const IMPORT_EXAMPLE = `household_id,name,address,grid_id,contact_name,contact_relation,contact_phone,contact_channels,device_id,device_kind
h-1001,Li Guiying,"Building 3, Unit 2, Room 401",g1,Li Wei,son,+8613800000001,sms,wb-1001,wristband
h-1001,Li Guiying,"Building 3, Unit 2, Room 401",g1,,,,,wm-1001,water_meter`;

export function importPage(root) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const result = h('section', {id: 'import-result', 'aria-live': 'polite'});
  const csv = h('textarea', {name: 'csv', rows: 10, spellcheck: 'false', placeholder: IMPORT_EXAMPLE});
  const file = h('input', {type: 'file', name: 'file', accept: '.csv,text/csv'});
  const submit = h('button', {type: 'submit', class: 'primary big', 'data-action': 'import'}, t('import.submit'));
  file.addEventListener('change', async () => {
    if (file.files[0]) csv.value = await file.files[0].text();
  });
  root.append(
    h('h1', {}, t('import.title')),
    h('form', {class: 'card', onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      result.replaceChildren();
      if (!csv.value.trim()) {
        error.textContent = t('import.empty');
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        const res = await api.post('/api/v1/import/households', csv.value, 'text/csv; charset=utf-8');
        showResult(res);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    }},
    h('p', {class: 'muted'}, t('import.help')),
    h('details', {}, h('summary', {}, t('import.example')), h('pre', {}, IMPORT_EXAMPLE)),
    h('label', {}, t('import.file'), file),
    h('label', {}, t('import.text'), csv),
    error,
    h('div', {class: 'form-actions'}, submit)),
    result,
  );

  function showResult(res) {
    const errors = res.errors || [];
    const secrets = res.secrets || [];
    result.replaceChildren(
      h('p', {class: errors.length ? 'notice warn' : 'notice', 'data-created': res.created, 'data-updated': res.updated},
        t('import.summary', {created: res.created, updated: res.updated, errors: errors.length})),
      errors.length ? h('div', {class: 'card'}, h('h2', {}, t('import.errors')), h('table', {class: 'import-errors'},
        h('thead', {}, h('tr', {}, h('th', {}, t('import.line')), h('th', {}, t('import.message')))),
        h('tbody', {}, errors.map((x) => h('tr', {'data-line': x.line}, h('td', {class: 'num'}, String(x.line)), h('td', {}, x.message)))))) : null,
      secrets.length ? h('div', {class: 'card secrets'}, h('h2', {}, t('import.secrets')), h('p', {class: 'warn'}, t('import.secrets_once')),
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('import.device')), h('th', {}, t('import.household')), h('th', {}, t('import.secret')))),
          h('tbody', {}, secrets.map((x) => h('tr', {}, h('td', {}, x.device_id), h('td', {}, x.household_id), h('td', {}, h('code', {}, x.secret))))))) : null,
    );
  }
}

// ---- SLA report -------------------------------------------------------------

export function sla(root, _params, app) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const grid = h('select', {name: 'grid_id'}, h('option', {value: ''}, t('households.all_grids')),
    [...new Set([...app.households.values()].map((x) => x.grid_id).filter(Boolean))].sort().map((g) => h('option', {value: g}, g)));
  const day = (d) => d.toISOString().slice(0, 10);
  const now = new Date(app.now());
  const from = h('input', {type: 'date', name: 'from', value: day(new Date(now.getTime() - 30 * 86400000))});
  const to = h('input', {type: 'date', name: 'to', value: day(new Date(now.getTime() + 86400000))});
  const tbody = h('tbody');
  const workers = h('tbody');
  const midnight = (v) => (v ? new Date(v + 'T00:00:00').toISOString() : undefined);
  // stars is a mean rating and how many it is of: "4.5 (2)"; a dash without ratings.
  const stars = (r) => (r.ratings ? t('sla.stars', {avg: i18n.number(r.rating_avg), n: r.ratings}) : '—');

  async function load() {
    error.hidden = true;
    try {
      const res = await api.get('/api/v1/reports/sla' + api.query({grid_id: grid.value, from: midnight(from.value), to: midnight(to.value)}));
      const rows = res.rows.sort((a, b) => a.grid_id.localeCompare(b.grid_id) || (tk.SEVERITY_RANK[a.severity] - tk.SEVERITY_RANK[b.severity]));
      tbody.replaceChildren(...rows.map((r) => h('tr', {},
        h('td', {}, r.grid_id), h('td', {}, tk.severityBadge(r.severity)), h('td', {class: 'num'}, String(r.count)),
        h('td', {class: 'num'}, i18n.seconds(r.ack_p50_s)), h('td', {class: 'num'}, i18n.seconds(r.ack_p90_s)),
        h('td', {class: 'num'}, i18n.seconds(r.resolve_p50_s)), h('td', {class: 'num'}, i18n.seconds(r.resolve_p90_s)),
        h('td', {class: ['num', r.ack_overdue && 'bad']}, String(r.ack_overdue)), h('td', {class: ['num', r.resolve_overdue && 'bad']}, String(r.resolve_overdue)),
        h('td', {class: 'num'}, stars(r)))));
      if (!rows.length) tbody.append(h('tr', {}, h('td', {colspan: 10, class: 'empty'}, t('sla.none'))));
      workers.replaceChildren(...res.workers.map((r) => h('tr', {'data-worker': r.worker_id, 'data-grid': r.grid_id},
        h('td', {}, app.workerName(r.worker_id)), h('td', {}, r.grid_id), h('td', {class: 'num'}, stars(r)))));
      if (!res.workers.length) workers.append(h('tr', {}, h('td', {colspan: 3, class: 'empty'}, t('sla.no_ratings'))));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  root.append(
    h('h1', {}, t('sla.title')),
    h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      load();
    }}, h('label', {}, t('households.grid'), grid), h('label', {}, t('sla.from'), from), h('label', {}, t('sla.to'), to),
    h('button', {type: 'submit', class: 'primary'}, t('sla.show'))),
    error,
    h('div', {class: 'table-wrap'}, h('table', {class: 'sla'},
      h('thead', {}, h('tr', {}, ['sla.grid', 'sla.severity', 'sla.count', 'sla.ack_p50', 'sla.ack_p90', 'sla.resolve_p50', 'sla.resolve_p90', 'sla.ack_overdue', 'sla.resolve_overdue', 'sla.rating'].map((k) => h('th', {}, t(k))))),
      tbody)),
    // The families' ratings of each worker's visits, routine ones included.
    h('h2', {}, t('sla.workers')),
    h('p', {class: 'muted'}, t('sla.workers_note')),
    h('div', {class: 'table-wrap'}, h('table', {class: 'sla-workers'},
      h('thead', {}, h('tr', {}, ['sla.worker', 'sla.grid', 'sla.rating'].map((k) => h('th', {}, t(k))))),
      workers)),
  );
  load();
}

// ---- suggestions ---------------------------------------------------------

// suggestions lists what false alarms' reasons suggest, for an operator to
// approve (a household override) or reject.
export function suggestions(root, _params, app) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const tbody = h('tbody');
  const value = (v) => (v == null ? '—' : String(v));

  async function load() {
    error.hidden = true;
    try {
      const res = await api.get('/api/v1/suggestions');
      tbody.replaceChildren(...res.suggestions.map((s) => h('tr', {'data-suggestion': s.id},
        h('td', {}, app.households.get(s.household_id)?.name || s.household_id),
        h('td', {}, tOr('rule.' + s.rule, s.rule)),
        h('td', {}, s.param === 'check_device' ? t('suggestions.check_device') : `${tOr('param.' + s.param, s.param)}: ${value(s.from)} → ${value(s.to)}`),
        h('td', {class: 'muted'}, s.because),
        h('td', {}, h('div', {class: 'actions'},
          h('button', {type: 'button', class: 'primary', 'data-action': 'approve', onclick: () => decide(s, 'approve')}, t('suggestions.approve')),
          h('button', {type: 'button', 'data-action': 'reject', onclick: () => decide(s, 'reject')}, t('suggestions.reject')))))));
      if (!res.suggestions.length) tbody.append(h('tr', {}, h('td', {colspan: 5, class: 'empty'}, t('suggestions.none'))));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  async function decide(s, action) {
    try {
      await api.post(`/api/v1/suggestions/${encodeURIComponent(s.id)}/${action}`, {});
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
    load();
  }

  root.append(h('h1', {}, t('suggestions.title')), error,
    h('div', {class: 'table-wrap'}, h('table', {class: 'suggestions'},
      h('thead', {}, h('tr', {}, ['suggestions.household', 'suggestions.rule', 'suggestions.change', 'suggestions.because', ''].map((k) => h('th', {}, k ? t(k) : '')))),
      tbody)));
  load();
}
