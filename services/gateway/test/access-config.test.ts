import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';

describe('access settings', () => {
  it('has access control off, same-host origins and 10 refusals a minute by default', () => {
    expect(loadGatewayConfig({ env: {} }).auth).toEqual({ tokens: '', allowedOrigins: '', maxRefusals: 10, refusalWindowSeconds: 60 });
  });

  it('reads every access key from its variable', () => {
    const config = loadGatewayConfig({
      env: {
        GATEWAY_AUTH_TOKENS: 'a-token-of-22-characters=1,2',
        GATEWAY_ALLOWED_ORIGINS: 'https://dash.example.com, http://localhost:3000',
        GATEWAY_AUTH_MAX_REFUSALS: '5',
        GATEWAY_AUTH_REFUSAL_WINDOW_SECONDS: '300',
      },
    });
    expect(config.auth).toEqual({ tokens: 'a-token-of-22-characters=1,2', allowedOrigins: 'https://dash.example.com, http://localhost:3000', maxRefusals: 5, refusalWindowSeconds: 300 });
  });
});
