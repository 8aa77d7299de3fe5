import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, produce, startGateway, windowResult, type Frame, type RunningGateway } from './helpers.js';

const TEAM_TOKEN = 'team-one-token-0123456789';
const ADMIN_TOKEN = 'admin+token/abcdef0123456'; // base64's + and /: the subprotocol carries them as base64url

describe('access control on a real broker', () => {
  let gw: RunningGateway;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    gw = await startGateway({ GATEWAY_AUTH_TOKENS: `${TEAM_TOKEN}=1,2;${ADMIN_TOKEN}=*` });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await gw?.close();
  });

  it('answers an upgrade without a valid token with 401', async () => {
    await expect(TestClient.connect(gw.wsUrl)).rejects.toThrow('HTTP 401');
    await expect(TestClient.connect(`${gw.wsUrl}?token=wrong-token-0123456789abc`)).rejects.toThrow('HTTP 401');
    await expect(TestClient.connect(gw.wsUrl, { headers: { authorization: 'Bearer nope-nope-nope-0123456789' } })).rejects.toThrow('HTTP 401');
  });

  it('never sends a message of another account, in the snapshot or live, and refuses foreign filters', async () => {
    await produce(gw.topic, [windowResult({ account_id: 1, count: 1 }), windowResult({ account_id: 3, count: 3 })]);
    // As the dashboard presents it: a subprotocol beside eric.v1, which the gateway answers with.
    const admin = await TestClient.connect(gw.wsUrl, {}, ['eric.v1', `eric.token.${Buffer.from(ADMIN_TOKEN).toString('base64url')}`]);
    expect(admin.socket.protocol).toBe('eric.v1');
    clients.push(admin);
    await admin.waitFor((f) => f.account_id === 3);

    const team = await TestClient.connect(gw.wsUrl, { headers: { authorization: `Bearer ${TEAM_TOKEN}` } });
    clients.push(team);
    await team.sync();
    expect(team.counts.map((f) => f.account_id)).toEqual([1]);

    team.send({ type: 'setFilter', filter: { account: 3 } });
    const refusal = await team.waitFor((f) => f.type === 'error' && f.error !== 'unknown_type'); // not a sync answer
    expect(refusal).toMatchObject({ type: 'error', error: 'forbidden' });

    await produce(gw.topic, [
      windowResult({ account_id: 3, count: 30 }),
      windowResult({ account_id: 2, count: 20 }),
      windowResult({ account_id: 3, count: 31 }),
      windowResult({ account_id: 1, count: 10 }),
    ]);
    await team.waitFor((f) => f.account_id === 1 && f.count === 10);
    await admin.waitFor((f) => f.account_id === 1 && f.count === 10);
    expect(team.counts.map((f) => f.account_id)).toEqual([1, 2, 1]);
    expect(admin.counts.some((f) => f.account_id === 3 && f.count === 31)).toBe(true);

    await team.setFilter({ account: 2 });
    expect(team.counts.at(-1)).toMatchObject({ account_id: 2, count: 20 });
  });

  it('guards the REST snapshot the same way', async () => {
    expect((await fetch(`${gw.baseUrl}/api/active-visitors`)).status).toBe(401);
    const headers = { authorization: `Bearer ${TEAM_TOKEN}` };
    expect((await fetch(`${gw.baseUrl}/api/active-visitors?account=3`, { headers })).status).toBe(403);
    const body = (await (await fetch(`${gw.baseUrl}/api/active-visitors`, { headers })).json()) as Frame;
    expect(new Set(body.results.map((r: { account_id: number }) => r.account_id))).toEqual(new Set([1, 2]));
    // The page, health and metrics stay open: they show no account's data.
    expect((await fetch(`${gw.baseUrl}/`)).status).toBe(200);
    expect((await fetch(`${gw.baseUrl}/healthz`)).status).toBe(200);
  });
});
