// The console's shell: log-in, the pages each role has, the live event
// stream, language and the ticking deadlines. Pages live in worker.js,
// operator.js and family.js; each is a function (root, params, app) that
// renders into root and may return {onTask(change), onResync(), dispose()}.

import * as api from './api.js';
import {h, $} from './dom.js';
import * as i18n from './i18n.js';
import {t} from './i18n.js';
import * as worker from './worker.js';
import * as operator from './operator.js';
import * as family from './family.js';
import * as office from './office.js';

const OFFICE = ['operator', 'supervisor', 'admin'];
const FIELD = ['grid_worker', 'supervisor', 'admin'];
const STAFF = ['operator', 'supervisor', 'grid_worker', 'admin'];

// Pages: hash route, roles that have it, nav label (none: not in the menu).
const ROUTES = [
  {path: /^\/tasks$/, page: worker.myTasks, roles: FIELD, nav: 'nav.my_tasks', href: '#/tasks'},
  {path: /^\/board$/, page: operator.board, roles: OFFICE, nav: 'nav.board', href: '#/board'},
  {path: /^\/households$/, page: operator.households, roles: STAFF, nav: 'nav.households', href: '#/households'},
  {path: /^\/import$/, page: operator.importPage, roles: ['operator', 'admin'], nav: 'nav.import', href: '#/import'},
  {path: /^\/sla$/, page: operator.sla, roles: OFFICE, nav: 'nav.sla', href: '#/sla'},
  {path: /^\/suggestions$/, page: operator.suggestions, roles: ['operator', 'admin'], nav: 'nav.suggestions', href: '#/suggestions'},
  {path: /^\/office(?:\/([a-z]+)(?:\/(.+))?)?$/, page: office.office, roles: ['operator', 'admin'], nav: 'nav.office', href: '#/office'},
  {path: /^\/grants$/, page: office.grants, roles: ['supervisor', 'admin'], nav: 'nav.grants', href: '#/grants'},
  {path: /^\/audit$/, page: office.audit, roles: ['supervisor', 'admin'], nav: 'nav.audit', href: '#/audit'},
  {path: /^\/tasks\/([^/]+)$/, page: worker.taskDetail, roles: STAFF},
  {path: /^\/households\/([^/]+)$/, page: operator.household, roles: STAFF},
  {path: /^\/home$/, page: family.home, roles: ['family']},
];

const HOME = {grid_worker: '#/tasks', supervisor: '#/board', operator: '#/households', admin: '#/board', family: '#/home'};

// app is what pages share: who is logged in, the monitor's clock, names of
// households, messages to the user.
const app = {
  me: null,
  // skew is the monitor's clock minus the browser's, so deadlines count down
  // on the monitor's time (the event clock in a simulation).
  skew: 0,
  households: new Map(),
  // workers by id, to name a task's assignee.
  workers: new Map(),
  workerName: (id) => app.workers.get(id)?.name || id,
  now: () => Date.now() + app.skew,
  navigate: (hash) => {
    if (location.hash === hash) render();
    else location.hash = hash;
  },
  toast,
  announce,
  household,
  loadHouseholds,
  loadWorkers,
  canAct: () => app.me && app.me.worker_id,
  isOffice: () => app.me && OFFICE.includes(app.me.role),
};

let view = null;
let stopStream = null;

function toast(msg, kind = 'info') {
  const el = $('#toast');
  el.textContent = msg;
  el.className = 'toast ' + kind;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 5000);
}

function announce(msg) {
  $('#announce').textContent = msg;
}

// loadHouseholds fills the name cache from GET /api/v1/households (the
// caller's grids for a grid worker).
async function loadHouseholds() {
  if (!app.me || app.me.role === 'family') return;
  const res = await api.get('/api/v1/households');
  app.households.clear();
  for (const hh of res.households) app.households.set(hh.id, hh);
}

// loadWorkers fills the worker cache from GET /api/v1/workers (a grid
// worker's colleagues). Of two loads under way, the one asked for last wins:
// the answer of an earlier one may come in later, without the worker the
// office registered in between.
let workersAsked = 0;
async function loadWorkers() {
  if (!app.me || app.me.role === 'family') return;
  const asked = ++workersAsked;
  const res = await api.get('/api/v1/workers');
  if (asked !== workersAsked) return;
  app.workers.clear();
  for (const w of res.workers) app.workers.set(w.id, w);
}

// household names a household: from the cache, else loaded on its own (one
// registered since the cache was filled).
async function household(id) {
  if (!app.households.has(id)) {
    try {
      const hh = await api.get('/api/v1/households/' + encodeURIComponent(id));
      app.households.set(id, hh);
    } catch {
      app.households.set(id, {id, name: id, address: ''});
    }
  }
  return app.households.get(id);
}

async function start() {
  await i18n.load(i18n.detect());
  const sel = $('#lang');
  sel.value = i18n.current();
  sel.addEventListener('change', async () => {
    await i18n.load(sel.value, true);
    renderChrome();
    render();
  });
  $('#logout').addEventListener('click', logout);
  api.onUnauthorized(() => logout(t('login.expired')));
  window.addEventListener('hashchange', render);
  setInterval(tick, 1000);
  if (api.token()) {
    try {
      await whoami();
    } catch {
      api.clearToken();
    }
  }
  renderChrome();
  render();
}

async function whoami() {
  app.me = await api.get('/api/v1/me');
  app.skew = app.me.now ? new Date(app.me.now).getTime() - Date.now() : 0;
  // Under the wall clock the two agree to within a request's time.
  if (Math.abs(app.skew) < 5000) app.skew = 0;
  if (app.me.role !== 'family') {
    await Promise.all([loadHouseholds().catch(() => {}), loadWorkers().catch(() => {})]);
    startStream();
  }
}

function startStream() {
  stopStream?.();
  const live = $('#live');
  live.hidden = false;
  const status = (s) => {
    live.className = 'live ' + s;
    live.dataset.state = s;
    live.textContent = t('live.' + s);
  };
  status('reconnecting');
  stopStream = api.stream((ev) => {
    if (ev.type === 'task') view?.onTask?.(ev.data);
    else if (ev.type === 'resync' || ev.type === 'connected') view?.onResync?.();
  }, status);
}

function logout(message) {
  stopStream?.();
  stopStream = null;
  api.clearToken();
  app.me = null;
  app.households.clear();
  app.workers.clear();
  $('#live').hidden = true;
  renderChrome();
  app.navigate('#/login');
  if (typeof message === 'string') toast(message, 'error');
}

function renderChrome() {
  const nav = $('#nav');
  nav.replaceChildren();
  const me = app.me;
  $('#logout').hidden = !me;
  $('#who').textContent = me ? `${me.name || me.id} · ${t('role.' + me.role)}` : '';
  if (!me) return;
  for (const r of ROUTES) {
    if (r.nav && r.roles.includes(me.role)) {
      nav.append(h('a', {href: r.href, 'data-nav': r.href}, t(r.nav)));
    }
  }
  markNav();
  const live = $('#live');
  if (!live.hidden && live.dataset.state) live.textContent = t('live.' + live.dataset.state);
}

function markNav() {
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', location.hash.startsWith(a.dataset.nav));
  }
}

function render() {
  view?.dispose?.();
  view = null;
  const main = $('#main');
  main.replaceChildren();
  const path = location.hash.replace(/^#/, '') || '/';
  if (!app.me) {
    if (path !== '/login') history.replaceState(null, '', '#/login');
    loginPage(main);
    return;
  }
  for (const r of ROUTES) {
    const m = path.match(r.path);
    if (!m) continue;
    if (!r.roles.includes(app.me.role)) break;
    markNav();
    view = r.page(main, m.slice(1).map((x) => (x === undefined ? undefined : decodeURIComponent(x))), app) || null;
    return;
  }
  history.replaceState(null, '', HOME[app.me.role] || '#/households');
  render();
}

function loginPage(root) {
  const error = h('p', {class: 'error', role: 'alert', hidden: true});
  const id = h('input', {name: 'id', autocomplete: 'username', required: true, autocapitalize: 'none'});
  const password = h('input', {name: 'password', type: 'password', autocomplete: 'current-password', required: true});
  const submit = h('button', {type: 'submit', class: 'big primary'}, t('login.submit'));
  const form = h('form', {class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const res = await api.post('/api/v1/login', {id: id.value.trim(), password: password.value});
      api.setToken(res.token);
      await whoami();
      renderChrome();
      app.navigate(HOME[app.me.role] || '#/households');
    } catch (err) {
      error.textContent = err.status === 401 ? t('login.wrong') : err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }},
  h('h1', {}, t('login.title')),
  h('label', {}, t('login.id'), id),
  h('label', {}, t('login.password'), password),
  error,
  submit);
  root.append(form);
  id.focus();
}

// tick refreshes every countdown on the page once a second: elements with
// data-due (an RFC 3339 time) and data-label (i18n key prefix).
function tick() {
  const now = app.now();
  for (const el of document.querySelectorAll('[data-due]')) {
    const due = new Date(el.dataset.due).getTime();
    const left = due - now;
    const prefix = el.dataset.label || 'countdown.ack';
    el.textContent = left >= 0 ? t(prefix + '_left', {d: i18n.clock(left)}) : t('countdown.overdue', {d: i18n.clock(-left)});
    el.classList.toggle('overdue', left < 0);
    el.classList.toggle('soon', left >= 0 && left < 5 * 60 * 1000);
  }
  for (const el of document.querySelectorAll('[data-ago]')) {
    el.textContent = i18n.ago(el.dataset.ago, now);
  }
}
app.tick = tick;

start();
