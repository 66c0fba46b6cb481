// The console's client of the JSON API (docs/api.md) and of its event stream.

const TOKEN = 'eldersafe.token';

// ApiError is an answer other than 2xx: the contract's {"error": {code, message}}.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when the token stops working (expired,
// revoked): the app logs out.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// The token lives in sessionStorage: it ends with the tab, and never goes
// into a URL or a cookie.
export const token = () => sessionStorage.getItem(TOKEN);
export const setToken = (t) => sessionStorage.setItem(TOKEN, t);
export const clearToken = () => sessionStorage.removeItem(TOKEN);

// request calls the API. A string body is sent as it is with contentType
// (CSV); anything else as JSON.
export async function request(method, path, body, contentType) {
  const headers = {Accept: 'application/json'};
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' && contentType) {
      payload = body;
      headers['Content-Type'] = contentType;
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
  }
  let res;
  try {
    res = await fetch(path, {method, headers, body: payload, cache: 'no-store', credentials: 'omit'});
  } catch (e) {
    throw new ApiError(0, 'network', e.message || 'network error');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error?.code || 'http_' + res.status, data?.error?.message || res.statusText);
    if (res.status === 401 && path !== '/api/v1/login') unauthorized();
    throw err;
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body, contentType) => request('POST', path, body, contentType);
export const put = (path, body) => request('PUT', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

// query builds "?a=1&b=2" from the set values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// stream follows GET /api/v1/events (server-sent events) until the returned
// function is called. It uses fetch rather than EventSource so that the token
// travels in the Authorization header, never in the URL. onEvent gets
// {type: 'connected'} on every (re)connection (load everything then),
// {type: 'task', data: {event, task}} and {type: 'resync'}; onStatus gets
// 'live' or 'reconnecting'. A stream silent for longer than three heartbeats
// is taken for dead and reopened.
export function stream(onEvent, onStatus) {
  let stopped = false;
  let current = null;
  (async () => {
    let delay = 1000;
    while (!stopped) {
      const ac = new AbortController();
      current = ac;
      let watchdog;
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => ac.abort(), 65000);
      };
      try {
        arm();
        const res = await fetch('/api/v1/events', {
          headers: {Authorization: 'Bearer ' + token(), Accept: 'text/event-stream'},
          signal: ac.signal,
          cache: 'no-store',
          credentials: 'omit',
        });
        if (res.status === 401) {
          unauthorized();
          return;
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        delay = 1000;
        onStatus('live');
        onEvent({type: 'connected'});
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          arm();
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = parse(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (ev) onEvent(ev);
          }
        }
      } catch {
        // reconnect below
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) return;
      onStatus('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  })();
  return () => {
    stopped = true;
    current?.abort();
  };
}

// parse reads one server-sent event; comments (heartbeats) give null.
function parse(block) {
  let type = 'message';
  let data = '';
  let id = null;
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let v = c < 0 ? '' : line.slice(c + 1);
    if (v.startsWith(' ')) v = v.slice(1);
    if (field === 'event') type = v;
    else if (field === 'data') data += (data ? '\n' : '') + v;
    else if (field === 'id') id = v;
  }
  if (!data) return null;
  try {
    return {type, id, data: JSON.parse(data)};
  } catch {
    return null;
  }
}
