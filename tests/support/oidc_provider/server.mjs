// A real OpenID Provider for FoldDeck's sign-in tests: panva's certified `oidc-provider`, configured
// here and nothing more (FoldDeck does not write the protocol side). Loopback only.
//
// Environment: PORT (0: pick one), CLIENTS (JSON list of client metadata), ACCOUNTS (a JSON file
// {accountId: {claims}} read at every look-up, so a test can take someone out of a group between logins),
// TLS_CERT and TLS_KEY (PEM files: serve HTTPS with them; unset: plain HTTP).
// Prints "listening <issuer>" once it accepts connections.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.CLIENTS || '[]').map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

function account(id) {
  const all = JSON.parse(readFileSync(process.env.ACCOUNTS, 'utf8'));
  return Object.hasOwn(all, id) ? all[id] : undefined;
}

const configuration = {
  clients,
  jwks: { keys: [{ ...signingKey, kid: 'test-signing-key', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: ['folddeck-test-only-cookie-key'] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
  conformIdTokenClaims: false, // put the scope's claims in the ID token too, as Keycloak does
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = account(id);
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
};

const port = Number(process.env.PORT || 0);
const tls = process.env.TLS_CERT
  ? { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) } : null;
const server = tls ? createTlsServer(tls) : createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
