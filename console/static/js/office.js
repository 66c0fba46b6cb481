// What the community office registers and looks after, from the console
// alone: grids, workers, log-ins, a household, a device (its secret shown
// once), a task for a resident who phoned in; the grants to see sensitive
// fields and the audit log (supervisors); a household's privacy settings
// and details (on the household's page). Each form posts to the API and
// shows its refusal as the API words it.

import * as api from './api.js';
import {h} from './dom.js';
import * as i18n from './i18n.js';
import {t, tOr} from './i18n.js';
import * as tk from './tasks.js';

const KINDS = ['wristband', 'motion_sensor', 'door_sensor', 'water_meter', 'power_meter'];
const SIGNALS = ['water', 'power', 'motion', 'door', 'location', 'health'];
const AUDIENCES = ['worker', 'family'];
const FIELDS = ['phone', 'medical_notes', 'heart_rate', 'location'];
const SEVERITIES = ['critical', 'high', 'medium', 'low'];
const SECTIONS = ['grids', 'workers', 'users', 'household', 'device', 'task'];
// CARE_LEVELS are a household's care levels (自理, 半自理, 失能), least care first.
export const CARE_LEVELS = ['self_care', 'semi', 'dependent'];

// ---- small form helpers ----------------------------------------------------

function input(name, attrs = {}) {
  return h('input', {name, autocomplete: 'off', ...attrs});
}

// select offers [value, label] options, value chosen (else the first).
function select(name, options, value) {
  const el = h('select', {name}, options.map(([v, label]) => h('option', {value: v}, label)));
  if (value !== undefined) el.value = value;
  return el;
}

function field(label, control) {
  return h('label', {}, label, control);
}

// checks is a row of checkboxes named name, one per [value, label].
function checks(name, options, chosen = []) {
  return h('div', {class: 'check-row', 'data-checks': name}, options.map(([v, label]) =>
    h('label', {}, h('input', {type: 'checkbox', name, value: v, checked: chosen.includes(v)}), label)));
}

const checked = (box) => [...box.querySelectorAll('input:checked')].map((x) => x.value);

// submitForm builds a form whose submit runs send(); a refusal shows the
// API's message, a success runs done(result).
function submitForm(attrs, children, label, send, done) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const button = h('button', {type: 'submit', class: 'primary big', 'data-action': attrs['data-form']}, label);
  const form = h('form', {class: 'card', novalidate: true, ...attrs, onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      done(await send());
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }}, children, error, h('div', {class: 'form-actions'}, button));
  return form;
}

const optional = (v) => (v.trim() === '' ? undefined : v.trim());

// ---- the office page ---------------------------------------------------------

// office shows one section (#/office/{section}[/{household}]) with the
// section links above it.
export function office(root, [section, arg], app) {
  section = SECTIONS.includes(section) ? section : 'grids';
  const body = h('div', {class: 'office-body', 'data-section': section});
  root.append(
    h('h1', {}, t('office.title')),
    h('nav', {class: 'office-nav', 'aria-label': t('office.title')}, SECTIONS.map((s) =>
      h('a', {href: '#/office/' + s, class: s === section ? 'active' : '', 'data-office': s}, t('office.' + s)))),
    body,
  );
  const render = {grids, workers, users, household: newHousehold, device: newDevice, task: manualTask}[section];
  render(body, app, arg || '').catch((err) => body.replaceChildren(h('p', {class: 'error', role: 'alert'}, err.message)));
}

async function grids(body, app) {
  const [{grids: list}, {workers}] = await Promise.all([api.get('/api/v1/grids'), api.get('/api/v1/workers')]);
  const none = ['', t('office.none_chosen')];
  const name = (id) => workers.find((w) => w.id === id)?.name || id;
  const id = input('id', {required: true});
  const gridName = input('name', {required: true});
  const sup = select('supervisor_id', [none, ...workers.filter((w) => w.role === 'supervisor').map((w) => [w.id, `${w.name} (${w.id})`])]);
  const backup = select('backup_worker_id', [none, ...workers.filter((w) => w.role !== 'operator').map((w) => [w.id, `${w.name} (${w.id})`])]);
  let editing = null;
  const title = h('h2', {}, t('office.new'));
  const form = submitForm({'data-form': 'grid'}, [title, field(t('office.id'), id), field(t('office.name'), gridName), h('div', {class: 'row'}, field(t('office.supervisor'), sup), field(t('office.backup'), backup))],
    t('office.save'),
    () => {
      const g = {name: gridName.value.trim(), supervisor_id: sup.value || undefined, backup_worker_id: backup.value || undefined};
      return editing ? api.put('/api/v1/grids/' + encodeURIComponent(editing), g) : api.post('/api/v1/grids', {id: id.value.trim(), ...g});
    },
    (g) => {
      app.toast(editing ? t('office.saved') : t('office.registered', {id: g.id}));
      grids(body, app);
    });
  const rows = list.sort((a, b) => i18n.byNumbers(a.id, b.id)).map((g) => h('tr', {'data-grid': g.id},
    h('td', {}, g.name, h('div', {class: 'muted'}, g.id)),
    h('td', {}, g.supervisor_id ? name(g.supervisor_id) : '—'),
    h('td', {}, g.backup_worker_id ? name(g.backup_worker_id) : '—'),
    h('td', {}, h('button', {type: 'button', 'data-action': 'edit', onclick: () => {
      editing = g.id;
      title.textContent = t('office.edit') + ' ' + g.id;
      id.value = g.id;
      id.disabled = true;
      gridName.value = g.name;
      sup.value = g.supervisor_id || '';
      backup.value = g.backup_worker_id || '';
      form.scrollIntoView();
    }}, t('office.edit')))));
  body.replaceChildren(form, table(['office.name', 'office.supervisor', 'office.backup', ''], rows));
}

async function workers(body, app) {
  const [{workers: list}, {grids: gridList}] = await Promise.all([api.get('/api/v1/workers'), api.get('/api/v1/grids')]);
  const id = input('id', {required: true});
  const name = input('name', {required: true});
  const phone = input('phone', {type: 'tel', placeholder: '+8613800000000'});
  const role = select('role', ['grid_worker', 'supervisor', 'operator'].map((r) => [r, t('role.' + r)]));
  const lang = select('lang', [['zh-CN', '中文'], ['en', 'English']]);
  let gridBox = checks('grid_ids', gridList.map((g) => [g.id, `${g.name} (${g.id})`]));
  const gridSlot = h('div', {}, gridBox);
  let editing = null;
  const title = h('h2', {}, t('office.new'));
  const form = submitForm({'data-form': 'worker'}, [title, h('div', {class: 'row'}, field(t('office.id'), id), field(t('office.name'), name)),
    h('div', {class: 'row'}, field(t('office.phone'), phone), field(t('office.role'), role), field(t('office.lang'), lang)),
    h('fieldset', {}, h('legend', {}, t('office.grid_ids')), gridSlot)],
  t('office.save'),
  () => {
    const w = {name: name.value.trim(), phone: phone.value.trim(), role: role.value, lang: lang.value, grid_ids: checked(gridBox)};
    return editing ? api.put('/api/v1/workers/' + encodeURIComponent(editing), w) : api.post('/api/v1/workers', {id: id.value.trim(), ...w});
  },
  (w) => {
    app.toast(editing ? t('office.saved') : t('office.registered', {id: w.id}));
    app.loadWorkers?.();
    workers(body, app);
  });
  const gridName = (g) => gridList.find((x) => x.id === g)?.name || g;
  const rows = list.sort((a, b) => i18n.byNumbers(a.id, b.id)).map((w) => h('tr', {'data-worker': w.id},
    h('td', {}, w.name, h('div', {class: 'muted'}, w.id)),
    h('td', {}, t('role.' + w.role)),
    h('td', {}, w.grid_ids.map(gridName).join(', ') || '—'),
    h('td', {}, w.phone ? h('a', {href: 'tel:' + w.phone, class: 'tel'}, w.phone) : '—'),
    h('td', {}, h('button', {type: 'button', 'data-action': 'edit', onclick: () => {
      editing = w.id;
      title.textContent = t('office.edit') + ' ' + w.id;
      id.value = w.id;
      id.disabled = true;
      name.value = w.name;
      phone.value = w.phone || '';
      role.value = w.role;
      role.disabled = true; // a worker's role stays (the API says why)
      lang.value = w.lang || 'zh-CN';
      gridBox = checks('grid_ids', gridList.map((g) => [g.id, `${g.name} (${g.id})`]), w.grid_ids);
      gridSlot.replaceChildren(gridBox);
      form.scrollIntoView();
    }}, t('office.edit')))));
  body.replaceChildren(form, table(['office.name', 'office.role', 'office.grid_ids', 'office.phone', ''], rows));
}

async function users(body, app) {
  const [{users: list}, {workers: workerList}] = await Promise.all([api.get('/api/v1/users'), api.get('/api/v1/workers')]);
  const id = input('id', {required: true, autocapitalize: 'none'});
  const password = input('password', {type: 'password', autocomplete: 'new-password', minlength: 12});
  const role = select('role', ['grid_worker', 'supervisor', 'family', 'operator'].map((r) => [r, t('role.' + r)]));
  const worker = select('worker_id', [['', t('office.none_chosen')], ...workerList.map((w) => [w.id, `${w.name} (${w.id}, ${t('role.' + w.role)})`])]);
  const [household, householdList] = householdPicker(app, 'household_id');
  const workerField = field(t('office.worker'), worker);
  const householdField = field(t('office.household_id'), [household, householdList]);
  const show = () => {
    workerField.hidden = !['grid_worker', 'supervisor'].includes(role.value);
    householdField.hidden = role.value !== 'family';
  };
  role.addEventListener('change', show);
  show();
  const form = submitForm({'data-form': 'user'}, [h('h2', {}, t('office.new')), h('div', {class: 'row'}, field(t('office.id'), id), field(t('office.password'), password)),
    field(t('office.role'), role), workerField, householdField],
  t('office.register'),
  () => api.post('/api/v1/users', {id: id.value.trim(), password: password.value, role: role.value,
    worker_id: workerField.hidden ? undefined : worker.value || undefined,
    household_id: householdField.hidden ? undefined : optional(household.value)}),
  (u) => {
    app.toast(t('office.registered', {id: u.id}));
    users(body, app);
  });
  const rows = list.map((u) => h('tr', {'data-user': u.id},
    h('td', {}, u.id), h('td', {}, t('role.' + u.role)), h('td', {}, u.worker_id || u.household_id || '—'), h('td', {}, i18n.dateTime(u.created_at))));
  body.replaceChildren(form, table(['office.id', 'office.role', 'office.worker', 'audit.at'], rows));
}

// householdPicker is a text field offering the households the console
// knows (a datalist, by id with the name), and that datalist.
function householdPicker(app, name, value = '') {
  const listID = 'households-' + name;
  const el = input(name, {list: listID, value, required: true});
  const list = h('datalist', {id: listID}, [...app.households.values()].sort((a, b) => i18n.byNumbers(a.id, b.id)).map((hh) => h('option', {value: hh.id}, hh.name)));
  return [el, list];
}

async function newHousehold(body, app) {
  const {grids: gridList} = await api.get('/api/v1/grids');
  const id = input('id', {required: true});
  const name = input('name', {required: true});
  const address = input('address', {required: true});
  const grid = select('grid_id', gridList.map((g) => [g.id, `${g.name} (${g.id})`]));
  const zone = input('timezone', {placeholder: 'Asia/Shanghai'});
  // The care level decides the routine visits a month and the thresholds.
  const care = select('care_level', CARE_LEVELS.map((l) => [l, t('care.' + l)]));
  const cName = input('contact_name');
  const relation = input('relation', {placeholder: t('office.relation')});
  const cPhone = input('contact_phone', {type: 'tel', placeholder: '+8613800000000'});
  const cLang = select('contact_lang', [['zh-CN', '中文'], ['en', 'English']]);
  const channels = checks('channels', ['sms', 'push', 'log'].map((c) => [c, t('channel.' + c)]), ['sms']);
  const result = h('div', {'aria-live': 'polite'});
  const form = submitForm({'data-form': 'household'}, [
    h('h2', {}, t('office.household')),
    h('div', {class: 'row'}, field(t('office.id'), id), field(t('office.name'), name)),
    field(t('office.address'), address),
    h('div', {class: 'row'}, field(t('households.grid'), grid), field(t('office.timezone'), zone)),
    field(t('care.title'), care),
    h('fieldset', {}, h('legend', {}, t('office.contact')),
      h('div', {class: 'row'}, field(t('office.contact_name'), cName), field(t('office.relation'), relation)),
      h('div', {class: 'row'}, field(t('office.phone'), cPhone), field(t('office.lang'), cLang)),
      h('p', {class: 'muted'}, t('office.channels')), channels)],
  t('office.register'),
  () => api.post('/api/v1/households', {
    id: id.value.trim(), name: name.value.trim(), address: address.value.trim(), grid_id: grid.value, timezone: optional(zone.value), care_level: care.value,
    contacts: cName.value.trim() ? [{name: cName.value.trim(), relation: relation.value.trim(), phone: optional(cPhone.value), lang: cLang.value, channels: checked(channels)}] : [],
  }),
  async (hh) => {
    app.toast(t('office.registered', {id: hh.id}));
    await app.loadHouseholds().catch(() => {});
    result.replaceChildren(h('p', {class: 'notice', 'data-registered': hh.id}, t('office.registered', {id: hh.id}), ' ',
      h('a', {href: '#/office/device/' + encodeURIComponent(hh.id), 'data-next': 'device'}, t('office.add_device')), ' · ',
      h('a', {href: '#/households/' + encodeURIComponent(hh.id)}, t('office.open_household'))));
    form.reset();
  });
  body.replaceChildren(form, result);
}

async function newDevice(body, app, householdID) {
  const id = input('id', {required: true});
  const kind = select('kind', KINDS.map((k) => [k, tOr('kind.' + k, k)]));
  const [household, householdList] = householdPicker(app, 'household_id', householdID);
  const every = input('expected_every', {placeholder: '4h'});
  const location = input('location', {placeholder: t('office.location_example')});
  const result = h('div', {'aria-live': 'polite'});
  const form = submitForm({'data-form': 'device'}, [
    h('h2', {}, t('office.device')),
    h('div', {class: 'row'}, field(t('office.id'), id), field(t('office.kind'), kind)),
    field(t('office.household_id'), [household, householdList]),
    field(t('office.location'), location),
    field(t('office.expected_every'), every)],
  t('office.register'),
  () => api.post('/api/v1/devices', {id: id.value.trim(), kind: kind.value, household_id: household.value.trim(), location: optional(location.value),
    expected_every: optional(every.value)}),
  (d) => {
    // The secret is in this answer only: shown now, never again.
    result.replaceChildren(h('section', {class: 'card secrets', 'data-device-registered': d.id},
      h('h2', {}, t('office.registered', {id: d.id})),
      d.secret ? [h('p', {}, t('office.secret')), h('p', {}, h('code', {class: 'secret-once', 'data-secret': ''}, d.secret)), h('p', {class: 'warn'}, t('office.secret_once'))] : null));
    id.value = '';
    every.value = '';
    location.value = '';
  });
  body.replaceChildren(form, result);
}

async function manualTask(body, app) {
  const [household, householdList] = householdPicker(app, 'household_id');
  const severity = select('severity', SEVERITIES.map((s) => [s, tk.severityName(s)]), 'high');
  const reason = h('textarea', {name: 'reason', rows: 3, maxlength: 500, required: true});
  const form = submitForm({'data-form': 'task'}, [
    h('h2', {}, t('office.task')),
    field(t('office.household_id'), [household, householdList]),
    field(t('office.severity'), severity),
    field(t('office.reason'), reason)],
  t('office.open_task'),
  () => api.post('/api/v1/tasks', {household_id: household.value.trim(), severity: severity.value, reason: reason.value.trim()}),
  (task) => app.navigate('#/tasks/' + encodeURIComponent(task.id)));
  body.replaceChildren(form);
}

function table(heads, rows) {
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, heads.map((k) => h('th', {}, k ? t(k) : '')))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: heads.length, class: 'empty'}, t('office.none'))))));
}

// ---- on a household's page ----------------------------------------------------

// householdEditor edits a household's name, address, grid and time zone;
// its contacts stay as registered (their numbers need a grant to be seen).
export function householdEditor(hh, app, saved) {
  const name = input('name', {value: hh.name});
  const address = input('address', {value: hh.address});
  const grid = input('grid_id', {value: hh.grid_id});
  const zone = input('timezone', {value: hh.timezone || '', placeholder: 'Asia/Shanghai'});
  api.get('/api/v1/grids').then(({grids: list}) => {
    const sel = select('grid_id', list.map((g) => [g.id, `${g.name} (${g.id})`]), hh.grid_id);
    grid.replaceWith(sel);
    form.gridSelect = sel;
  }).catch(() => {});
  const form = submitForm({'data-form': 'edit-household', id: 'edit-household'}, [
    h('h2', {}, t('office.edit_household')),
    h('div', {class: 'row'}, field(t('office.name'), name), field(t('office.timezone'), zone)),
    field(t('office.address'), address),
    field(t('households.grid'), grid),
    h('p', {class: 'muted'}, t('office.contacts_kept'))],
  t('office.save'),
  () => api.put('/api/v1/households/' + encodeURIComponent(hh.id), {name: name.value.trim(), address: address.value.trim(),
    grid_id: (form.gridSelect || grid).value.trim(), timezone: optional(zone.value)}),
  () => {
    app.toast(t('office.saved'));
    saved();
  });
  return h('details', {class: 'card'}, h('summary', {}, t('office.edit_household')), form);
}

// privacyEditor sets who sees each of the home's signals, on the resident's word.
export function privacyEditor(hh, app, saved) {
  const boxes = {};
  const rows = SIGNALS.map((sig) => h('tr', {'data-signal': sig},
    h('td', {}, tOr('signal.' + sig, sig)),
    AUDIENCES.map((aud) => {
      boxes[sig + '.' + aud] = h('input', {type: 'checkbox', name: `${sig}.${aud}`, checked: (hh.privacy?.[sig] || []).includes(aud), 'aria-label': `${tOr('signal.' + sig, sig)}: ${t('audience.' + aud)}`});
      return h('td', {}, boxes[sig + '.' + aud]);
    })));
  const form = submitForm({'data-form': 'privacy', id: 'privacy'}, [
    h('h2', {}, t('privacy.title')),
    h('p', {class: 'muted'}, t('privacy.help')),
    h('div', {class: 'table-wrap'}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('privacy.signal')), AUDIENCES.map((a) => h('th', {}, t('audience.' + a))))), h('tbody', {}, rows)))],
  t('privacy.save'),
  () => api.put(`/api/v1/households/${encodeURIComponent(hh.id)}/privacy`,
    Object.fromEntries(SIGNALS.map((sig) => [sig, AUDIENCES.filter((aud) => boxes[sig + '.' + aud].checked)]))),
  () => {
    app.toast(t('office.saved'));
    saved();
  });
  return form;
}

// ---- grants (supervisors) -----------------------------------------------------

export function grants(root, _params, app) {
  const [household, householdList] = householdPicker(app, 'household_id');
  const list = h('div', {id: 'grant-list'});
  const error = h('p', {class: 'error', role: 'alert', hidden: true});

  async function load() {
    error.hidden = true;
    if (!household.value.trim()) return;
    try {
      const res = await api.get('/api/v1/grants' + api.query({household_id: household.value.trim()}));
      list.replaceChildren(table(['grants.user', 'grants.fields', 'grants.reason', 'grants.until', 'grants.by', ''], res.grants.map((g) => h('tr', {'data-grant': g.id},
        h('td', {}, g.user_id), h('td', {}, g.fields.map((f) => tOr('field.' + f, f)).join(', ')), h('td', {}, g.reason),
        h('td', {}, i18n.dateTime(g.until), ' ', h('span', {class: 'badge'}, t(g.active ? 'grants.active' : 'grants.ended'))),
        h('td', {}, g.granted_by),
        h('td', {}, g.active ? h('button', {type: 'button', class: 'danger', 'data-action': 'revoke', onclick: async () => {
          const reason = prompt(t('grants.revoke_reason'));
          if (!reason) return;
          try {
            await api.request('DELETE', '/api/v1/grants/' + encodeURIComponent(g.id), {reason});
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
          }
          load();
        }}, t('grants.revoke')) : null)))));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  const user = input('user_id', {required: true, list: 'grant-users'});
  const userList = h('datalist', {id: 'grant-users'});
  api.get('/api/v1/users').then((res) => userList.replaceChildren(...res.users.map((u) => h('option', {value: u.id}, t('role.' + u.role))))).catch(() => {});
  const fields = checks('fields', FIELDS.map((f) => [f, t('field.' + f)]));
  const reason = input('reason', {required: true});
  // A grant runs on wall time, whatever clock the tasks run on (the demo's is simulated).
  const week = new Date(Date.now() + 7 * 86400000);
  const until = input('until', {type: 'datetime-local', value: new Date(week.getTime() - week.getTimezoneOffset() * 60000).toISOString().slice(0, 16)});
  const form = submitForm({'data-form': 'grant'}, [h('h2', {}, t('grants.create')),
    h('div', {class: 'row'}, field(t('grants.user'), h('span', {}, user, userList)), field(t('grants.until'), until)),
    h('p', {class: 'muted'}, t('grants.fields')), fields, field(t('grants.reason'), reason)],
  t('grants.create'),
  () => api.post('/api/v1/grants', {user_id: user.value.trim(), household_id: household.value.trim(), fields: checked(fields), reason: reason.value.trim(),
    until: until.value ? new Date(until.value).toISOString() : undefined}),
  () => {
    app.toast(t('office.saved'));
    load();
  });
  root.append(h('h1', {}, t('grants.title')),
    h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      load();
    }}, field(t('grants.household'), [household, householdList]), h('button', {type: 'submit', class: 'primary'}, t('grants.show'))),
    error, list, form);
}

// ---- audit log (supervisors) ----------------------------------------------------

export function audit(root) {
  const actor = input('actor');
  const object = input('object', {placeholder: 'households/h1'});
  const limit = select('limit', ['20', '100', '500'].map((n) => [n, n]), '20');
  const tbody = h('tbody');
  const error = h('p', {class: 'error', role: 'alert', hidden: true});

  async function load() {
    error.hidden = true;
    try {
      const res = await api.get('/api/v1/audit' + api.query({actor: actor.value.trim(), object: object.value.trim(), limit: limit.value}));
      tbody.replaceChildren(...res.entries.map((e) => h('tr', {},
        h('td', {}, i18n.dateTime(e.at)), h('td', {}, e.actor), h('td', {}, tOr('role.' + e.role, e.role)), h('td', {}, e.action),
        h('td', {}, h('code', {}, e.object)), h('td', {}, e.remote), h('td', {}, e.reason))));
      if (!res.entries.length) tbody.append(h('tr', {}, h('td', {colspan: 7, class: 'empty'}, t('audit.none'))));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  root.append(h('h1', {}, t('audit.title')),
    h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      load();
    }}, field(t('audit.actor'), actor), field(t('audit.object'), object), field(t('audit.limit'), limit), h('button', {type: 'submit', class: 'primary'}, t('audit.show'))),
    error,
    h('div', {class: 'table-wrap'}, h('table', {class: 'audit'},
      h('thead', {}, h('tr', {}, ['audit.at', 'audit.actor', 'audit.role', 'audit.action', 'audit.object', 'audit.remote', 'audit.reason'].map((k) => h('th', {}, t(k))))),
      tbody)));
  load();
}
