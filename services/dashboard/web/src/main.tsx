import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request, storeToken, storedToken, whenUnauthorized } from './api.js';
import { ErrorBox, Field } from './components.js';
import { live, useStreamState } from './live.js';
import { href, useRoute } from './router.js';
import { ConflictsPage } from './pages/conflicts.js';
import { EventsPage } from './pages/events.js';
import { GroupPage, GroupsPage } from './pages/groups.js';
import { LinkPage, LinksPage } from './pages/links.js';
import { OverviewPage } from './pages/overview.js';
import { ProtectionPage } from './pages/protection.js';
import { SystemPage, SystemsPage } from './pages/systems.js';
import { WebhooksPage } from './pages/webhooks.js';
import './styles.css';

export interface Session {
  kind: string;
  canWrite: boolean;
}

function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const who = (await request('GET', '/whoami', undefined, token.trim())).body;
      if (who.kind !== 'admin' && who.kind !== 'viewer') throw new Error('this credential is a host key or enrollment token; the dashboard needs the admin or viewer token');
      storeToken(token.trim());
      onLogin({ kind: who.kind, canWrite: who.can_write });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? new Error('that token is not valid') : (err as Error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>zfs-sync</h1>
      <form onSubmit={submit} class="card">
        <p>Sign in with the operator's admin token or the read-only viewer token.</p>
        <Field label="Token" hint="Kept in this browser tab only; never sent in a URL.">
          <input type="password" name="token" autocomplete="current-password" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}

const NAV: Array<[string, string]> = [
  ['', 'Overview'],
  ['systems', 'Systems'],
  ['groups', 'Sync groups'],
  ['links', 'Links'],
  ['conflicts', 'Conflicts'],
  ['protection', 'Protection'],
  ['events', 'Events'],
  ['webhooks', 'Webhooks'],
];

function LiveStatus() {
  const s = useStreamState();
  const text = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', unavailable: 'live updates unavailable' }[s];
  return (
    <span class={`live live-${s}`} role="status" aria-live="polite" data-state={s}>
      <span aria-hidden="true">●</span> {text}
    </span>
  );
}

function Page({ session }: { session: Session }) {
  const route = useRoute();
  const [first = '', id, sub] = route.path;
  useEffect(() => {
    const h1 = document.querySelector('main h1');
    document.title = `${h1?.textContent ?? 'zfs-sync'} · zfs-sync`;
  });
  switch (first) {
    case '':
      return <OverviewPage />;
    case 'systems':
      return id ? <SystemPage id={id} session={session} /> : <SystemsPage route={route} />;
    case 'groups':
      return id ? <GroupPage id={id} route={route} session={session} /> : <GroupsPage session={session} />;
    case 'links':
      return id && sub === 'detail' ? <LinkPage groupId={id} route={route} /> : <LinksPage route={route} />;
    case 'conflicts':
      return <ConflictsPage route={route} session={session} />;
    case 'protection':
      return <ProtectionPage route={route} />;
    case 'events':
      return <EventsPage />;
    case 'webhooks':
      return <WebhooksPage session={session} />;
    default:
      return (
        <main id="main">
          <h1>Not found</h1>
          <p>
            No page here. <a href="#/">Back to the overview</a>.
          </p>
        </main>
      );
  }
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(storedToken() !== null);
  const route = useRoute();

  useEffect(() => {
    whenUnauthorized(() => {
      storeToken(null);
      live.stop();
      setSession(null);
    });
    if (!storedToken()) return;
    request('GET', '/whoami')
      .then((r) => setSession({ kind: r.body.kind, canWrite: r.body.can_write }))
      .catch(() => storeToken(null))
      .finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    if (session) live.start();
    return () => live.stop();
  }, [session]);

  if (checking) return <p class="boot">Loading zfs-sync…</p>;
  if (!session) return <Login onLogin={setSession} />;
  const here = route.path[0] ?? '';
  return (
    <>
      <a href="#main" class="skip" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">zfs-sync</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([path, label]) => (
              <li key={path}>
                <a href={href(path ? [path] : [])} aria-current={here === path ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
            <li>
              <a href="/admin/queues">Queues (Bull Board)</a>
            </li>
          </ul>
        </nav>
        <LiveStatus />
        <span class="who">{session.kind === 'admin' ? 'admin' : 'viewer (read-only)'}</span>
        <button
          type="button"
          onClick={() => {
            storeToken(null);
            live.stop();
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <Page session={session} />
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the static "Loading" line of index.html
render(<App />, root);
