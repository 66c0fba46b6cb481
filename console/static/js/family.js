// A family member's page: what the office is doing about their relative's
// home right now (an open alarm: what happened, how far it got, who is
// coming), then the home device by device, as far as the resident's privacy
// settings let them see.

import * as api from './api.js';
import {h} from './dom.js';
import * as i18n from './i18n.js';
import {t, tOr} from './i18n.js';

export function home(root, _params, app) {
  const body = h('div', {class: 'family'});
  const visitsBox = h('section', {class: 'card', id: 'visits'});
  root.append(body);
  let disposed = false;
  const path = '/api/v1/households/' + encodeURIComponent(app.me.household_id);

  // The visits that were made, each to rate once with one to five stars.
  async function loadVisits() {
    try {
      const {visits} = await api.get(path + '/visits');
      if (disposed) return;
      visitsBox.replaceChildren(h('h2', {}, t('family.visits')),
        visits.length ? h('ul', {class: 'plain'}, visits.map((v) => h('li', {'data-task-id': v.id},
          h('strong', {}, v.kind === 'routine_visit' ? t('rule.routine_visit') : t('family.visit')), ' ',
          h('span', {class: 'muted'}, i18n.dateTime(v.closed_at)), ' ', tOr('outcome.' + v.outcome, v.outcome),
          v.rating ? h('p', {class: 'rated'}, t('family.rated', {n: v.rating.stars})) : stars(v)))) : h('p', {class: 'empty'}, t('family.no_visits')));
    } catch (err) {
      visitsBox.replaceChildren(h('h2', {}, t('family.visits')), h('p', {class: 'error'}, err.message));
    }
  }

  function stars(v) {
    const msg = h('span', {class: 'error', role: 'alert'});
    const buttons = [1, 2, 3, 4, 5].map((n) => h('button', {type: 'button', class: 'star', 'data-stars': n, 'aria-label': t('family.stars', {n}),
      onclick: async () => {
        buttons.forEach((b) => (b.disabled = true));
        try {
          await api.post(`/api/v1/tasks/${encodeURIComponent(v.id)}/rating`, {stars: n});
          await loadVisits();
        } catch (err) {
          msg.textContent = err.message;
          buttons.forEach((b) => (b.disabled = false));
        }
      }}, '★'));
    return h('div', {class: 'stars', role: 'group', 'aria-label': t('family.rate')}, t('family.rate'), ' ', ...buttons, msg);
  }

  async function load() {
    try {
      const hh = await api.get(path);
      if (disposed) return;
      const open = hh.open_tasks || [];
      body.replaceChildren(
        h('h1', {}, hh.name),
        ...open.map((task) => h('section', {class: ['card', 'family-task', 'sev-' + task.severity], role: 'alert', 'data-family-task': task.id},
          h('h2', {}, t('family.open_task', {rule: tOr('rule.' + task.rule, task.rule), state: tOr('state.' + task.state, task.state)})),
          h('p', {}, task.assignee ? t('family.coming', {name: task.assignee}) : t('family.arranging')),
          h('p', {class: 'muted'}, t('family.opened', {at: i18n.dateTime(task.opened_at, app.me.timezone)})))),
        h('h2', {}, t('family.devices')),
        // While an alarm is open, "online" must not read as "all is well".
        open.length ? h('p', {class: 'muted', 'data-connection-only': ''}, t('family.connection_only')) : '',
        h('ul', {class: 'plain family-devices'}, (hh.devices || []).map((d) => {
          const st = d.status;
          const state = !st ? 'never' : st.online ? 'online' : 'offline';
          return h('li', {class: 'card'},
            h('strong', {}, tOr('kind.' + d.kind, d.kind)), ' ', h('span', {class: 'muted'}, d.location || d.id), ' ',
            h('span', {class: ['chip', state]}, h('span', {class: 'dot', 'aria-hidden': 'true'}), t('device.' + state)),
            st ? h('div', {class: 'muted'}, t('devices.last_seen'), ': ', h('span', {'data-ago': st.last_seen}, i18n.ago(st.last_seen, app.now()))) : null);
        })),
        h('p', {class: 'muted'}, t('family.help')),
        visitsBox,
      );
      loadVisits();
    } catch (err) {
      body.replaceChildren(h('p', {class: 'error', role: 'alert'}, err.message));
    }
  }

  load();
  const poll = setInterval(load, 60000);
  return {
    dispose() {
      disposed = true;
      clearInterval(poll);
    },
  };
}
