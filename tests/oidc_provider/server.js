// A real OpenID Connect provider (panva's certified `oidc-provider`) on loopback, for the
// sign-in tests in tests/oidc/. Never for production: its users, passwords and client
// secret are written below.
//
//   node server.js [PORT]           (or PORT=... node server.js; 0 picks a free port)
//
// Environment:
//   OIDC_TEST_JWKS_FILE   a JSON Web Key Set with the private signing key (the tests write it,
//                         so they can also sign tokens the provider never issued); without
//                         it the provider makes an ephemeral development key.
//   OIDC_TEST_CLIENT_ID / OIDC_TEST_CLIENT_SECRET   the one confidential client
//                         (default imagegen / imagegen-test-secret).
//
// It prints one line, `listening <issuer>`, once it accepts connections.
//
// The client is confidential (client_secret_basic), code flow only, PKCE (S256) required.
// Its redirect URIs are http://{testserver,localhost,127.0.0.1}/oidc/callback/ on any port
// (the tests' Django test client and pytest-django's live server), and the same hosts'
// /login/ after logout. Sign-in is a minimal login form (/interaction/<uid>) that also
// consents to every scope asked for; "Cancel" answers the client with error=access_denied.

import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const USERS = {
  alice: {
    sub: 'u-1001',
    email: 'alice@example.com',
    email_verified: true,
    given_name: 'Alice',
    family_name: 'Liddell',
    name: 'Alice Liddell',
    preferred_username: 'alice',
    groups: ['artists', 'reviewers'],
  },
  bob: {
    sub: 'u-1002',
    email: 'bob@example.com',
    email_verified: true,
    given_name: 'Bob',
    family_name: 'Builder',
    name: 'Bob Builder',
    preferred_username: 'bob',
    groups: ['artists'],
  },
  // No preferred_username: the studio names the account from the email.
  carol: {
    sub: 'u-1003',
    email: 'carol@example.com',
    email_verified: true,
    given_name: 'Carol',
    family_name: 'Jones',
    name: 'Carol Jones',
    groups: [],
  },
  // An address outside the allowed domains.
  eve: {
    sub: 'u-1004',
    email: 'eve@evil.example',
    email_verified: true,
    given_name: 'Eve',
    family_name: 'Intruder',
    name: 'Eve Intruder',
    preferred_username: 'eve',
    groups: ['artists'],
  },
  // The provider says the address is not verified.
  mallory: {
    sub: 'u-1005',
    email: 'mallory@example.com',
    email_verified: false,
    given_name: 'Mallory',
    family_name: 'Mask',
    name: 'Mallory Mask',
    preferred_username: 'mallory',
    groups: [],
  },
};
const PASSWORD = 'correct horse';
const BY_SUB = Object.fromEntries(Object.values(USERS).map((user) => [user.sub, user]));

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const clientId = process.env.OIDC_TEST_CLIENT_ID || 'imagegen';
const clientSecret = process.env.OIDC_TEST_CLIENT_SECRET || 'imagegen-test-secret';
const LOOPBACK_HOSTS = ['testserver', 'localhost', '127.0.0.1'];

function page(title, body) {
  // No external resource (the tests never reach the internet) and no inline script.
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The registered URI, or the same URI on a loopback host with any port (the tests' servers
// pick free ports).
function uriAllowed(value, registered) {
  if (registered.includes(value)) return true;
  let url;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.includes(url.hostname)) return false;
  url.port = '';
  return registered.includes(url.href);
}

function listenPort(server) {
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

const server = http.createServer();
const actualPort = await listenPort(server);
const issuer = `http://127.0.0.1:${actualPort}`;

let jwks;
if (process.env.OIDC_TEST_JWKS_FILE) {
  jwks = JSON.parse(readFileSync(process.env.OIDC_TEST_JWKS_FILE, 'utf8'));
}

const provider = new Provider(issuer, {
  ...(jwks ? { jwks } : {}),
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: LOOPBACK_HOSTS.map((host) => `http://${host}/oidc/callback/`),
      post_logout_redirect_uris: LOOPBACK_HOSTS.map((host) => `http://${host}/login/`),
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  cookies: { keys: ['imagegen-test-cookie-key'] },
  async findAccount(ctx, sub) {
    const user = BY_SUB[sub];
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ ...user }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page(
          'Sign out of the test provider',
          `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page(
      'Provider error',
      `<pre>${Object.entries(out).map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`).join('\n')}</pre>`,
    );
  },
});
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  return uriAllowed(value, this.redirectUris);
};
provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutAllowed(value) {
  return uriAllowed(value, this.postLogoutRedirectUris || []);
};

function loginForm(uid, error = '') {
  return page(
    'Sign in to the test provider',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Username</label> <input id="login" name="login" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
  );
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET' && !action) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(loginForm(uid));
    return;
  }
  if (req.method !== 'POST') {
    res.statusCode = 405;
    res.end();
    return;
  }
  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const user = USERS[form.get('login')];
  if (!user || form.get('password') !== PASSWORD) {
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(loginForm(uid, 'Wrong username or password.'));
    return;
  }
  // Consent to every scope the client asked for (a first-party client).
  const grant = new provider.Grant({ accountId: user.sub, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: user.sub }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const handleProvider = provider.callback();
server.on('request', async (req, res) => {
  if (req.url === '/favicon.ico') {
    res.statusCode = 204;
    res.end();
    return;
  }
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(req.url.split('?')[0]);
  if (!match) {
    handleProvider(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (err) {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Sign-in failed', `<p>${escapeHtml(err.message)}</p>`));
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
console.log(`listening ${issuer}`);
