/**
 * The websocket to the gateway, in the protocol every client speaks (see docs/gateway.md): the
 * snapshot of recent windows on connect, then every changed count; `setFilter` narrows both.
 * The page asks for a snapshot of `windows` windows, enough for the chart's hour.
 */
export function openLiveCounts({ token, windows, filter, onOpen, onCount, onError, onClose }) {
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('windows', String(windows));
  // The token rides as a subprotocol, never in the URL (which servers and proxies log); the
  // gateway answers eric.v1. base64url: a subprotocol may not hold the "/", "+" or "=" of a token.
  const protocols = token ? ['eric.v1', `eric.token.${base64url(token)}`] : ['eric.v1'];
  const socket = new WebSocket(url, protocols);
  const send = (message) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };
  const setFilter = (next) => send({ type: 'setFilter', filter: next });
  socket.onopen = () => {
    // The server sends everything on connect; a filter narrows it at once (and resends its counts).
    if (Object.keys(filter).length > 0) setFilter(filter);
    onOpen();
  };
  socket.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === 'error') onError(message);
    else if (typeof message.account_id === 'number') onCount(message);
  };
  socket.onclose = (event) => onClose(event);
  return { setFilter, close: () => socket.close() };
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
