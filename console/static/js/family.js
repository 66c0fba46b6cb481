// A family member's page: how their relative's home is doing, device by
// device, as far as the resident's privacy settings let them see.

import * as api from './api.js';
import {h} from './dom.js';
import * as i18n from './i18n.js';
import {t, tOr} from './i18n.js';

export function home(root, _params, app) {
  const body = h('div', {class: 'family'});
  root.append(body);
  let disposed = false;

  async function load() {
    try {
      const hh = await api.get('/api/v1/households/' + encodeURIComponent(app.me.household_id));
      if (disposed) return;
      body.replaceChildren(
        h('h1', {}, hh.name),
        h('ul', {class: 'plain family-devices'}, (hh.devices || []).map((d) => {
          const st = d.status;
          const state = !st ? 'never' : st.online ? 'online' : 'offline';
          return h('li', {class: 'card'},
            h('strong', {}, tOr('kind.' + d.kind, d.kind)), ' ',
            h('span', {class: ['chip', state]}, h('span', {class: 'dot', 'aria-hidden': 'true'}), t('device.' + state)),
            st ? h('div', {class: 'muted'}, t('devices.last_seen'), ': ', h('span', {'data-ago': st.last_seen}, i18n.ago(st.last_seen, app.now()))) : null);
        })),
        h('p', {class: 'muted'}, t('family.help')),
      );
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
