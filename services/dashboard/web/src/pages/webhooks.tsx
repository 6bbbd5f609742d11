import { useState } from 'preact/hooks';
import { get, request } from '../api.js';
import { ErrorBox, Field, Loading, PageMain } from '../components.js';
import { useResource } from '../hooks.js';
import type { Session } from '../main.js';

/** Webhook endpoints (the admin API of the events issue): add one, see its secret once, send a test event. */
export function WebhooksPage({ session }: { session: Session }) {
  const hooks = useResource(() => get('/webhooks').then((r: any) => (Array.isArray(r) ? r : (r.items ?? []))), []);
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [types, setTypes] = useState('*');
  const [secret, setSecret] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const add = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setMessage(null);
    try {
      const r = await request('POST', '/webhooks', { url: url.trim(), ...(description ? { description } : {}), event_types: types.split(',').map((t) => t.trim()).filter(Boolean) });
      setSecret(r.body.secret ?? r.body.signing_secret ?? null);
      setUrl('');
      hooks.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const test = async (id: string) => {
    setError(null);
    try {
      await request('POST', `/webhooks/${id}/test`);
      setMessage('Test event sent; see the deliveries of this endpoint.');
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <PageMain title="Webhooks">
      {message ? (
        <p class="ok" role="status">
          {message}
        </p>
      ) : null}
      <ErrorBox error={error} />
      {secret ? (
        <div class="card" role="status">
          <p>
            The signing secret is shown <strong>only now</strong>:
          </p>
          <code class="secret">{secret}</code>
          <div class="actions">
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      {session.canWrite ? (
        <form class="card form" onSubmit={add} aria-labelledby="h-add-webhook">
          <h2 id="h-add-webhook">Add an endpoint</h2>
          <Field label="URL (https://…)">
            <input type="url" required value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="Description">
            <input value={description} maxLength={500} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="Event types (comma-separated, * for all)">
            <input value={types} onInput={(e) => setTypes((e.target as HTMLInputElement).value)} />
          </Field>
          <button type="submit" class="primary">
            Add endpoint
          </button>
        </form>
      ) : null}
      <ErrorBox error={hooks.error} />
      {!hooks.data ? (
        <Loading />
      ) : hooks.data.length === 0 ? (
        <p>No webhook endpoint yet.</p>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Enabled</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {hooks.data.map((h: any) => (
              <tr key={h.id}>
                <td>
                  <code>{h.url}</code>
                  {h.description ? <div class="muted">{h.description}</div> : null}
                </td>
                <td>{(h.event_types ?? []).join(', ')}</td>
                <td>{h.enabled ? 'yes' : 'no'}</td>
                <td>
                  {session.canWrite ? (
                    <button type="button" onClick={() => test(h.id)}>
                      Send test event
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </PageMain>
  );
}
