/**
 * The live event stream (`GET /api/v1/events/stream`, Server-Sent Events) read with fetch, so the
 * token goes in the Authorization header (EventSource cannot send headers, and a token in the
 * URL would end up in logs). It reconnects by itself with a growing delay and resumes with
 * Last-Event-ID, so nothing is missed across a reconnect.
 */

export interface LiveEvent {
  id: string;
  type: string;
  occurred_at?: string;
  data: Record<string, any>;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

type Listener = (e: LiveEvent) => void;
type StateListener = (s: StreamState) => void;

export class EventStream {
  private listeners = new Set<Listener>();
  private stateListeners = new Set<StateListener>();
  private lastEventId: string | null = null;
  private controller: AbortController | null = null;
  private stopped = false;
  private failures = 0;
  state: StreamState = 'connecting';

  /**
   * @param url the stream's address (`/api/v1/events/stream` in the page)
   * @param token the credential to present, read at every (re)connect
   */
  constructor(
    private readonly url: string,
    private readonly token: () => string | null,
  ) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn: StateListener): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  /** The id of the last event received: where a reconnect resumes. */
  get lastId(): string | null {
    return this.lastEventId;
  }

  private setState(s: StreamState): void {
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connectOnce();
        this.failures = 0; // the server ended a healthy stream: reconnect at once
      } catch (err) {
        if (this.stopped) return;
        this.failures++;
        if ((err as { status?: number }).status === 404) this.setState('unavailable');
      }
      if (this.stopped) return;
      if (this.state !== 'unavailable') this.setState('reconnecting');
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6)) * (0.75 + Math.random() * 0.5);
      await new Promise((r) => setTimeout(r, this.failures === 0 ? 250 : delay));
    }
  }

  private async connectOnce(): Promise<void> {
    const token = this.token();
    if (!token) throw new Error('no token');
    this.controller = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    const res = await fetch(this.url, { headers, signal: this.controller.signal });
    if (!res.ok || !res.body) throw Object.assign(new Error(`stream answered ${res.status}`), { status: res.status });
    this.setState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data: string[] = [];
    let id: string | null = null;
    let type = 'message';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (data.length) this.dispatch(id, type, data.join('\n'));
          data = [];
          type = 'message';
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(val);
        else if (field === 'event') type = val;
        else if (field === 'id' && !val.includes('\u0000')) id = val;
      }
    }
  }

  private dispatch(id: string | null, type: string, raw: string): void {
    if (id !== null) this.lastEventId = id;
    let parsed: any;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return;
    }
    if (!parsed || typeof parsed !== 'object') return;
    const event: LiveEvent = {
      id: String(parsed.id ?? id ?? ''),
      type: String(parsed.type ?? type),
      occurred_at: typeof parsed.occurred_at === 'string' ? parsed.occurred_at : undefined,
      data: parsed.data && typeof parsed.data === 'object' ? parsed.data : {},
    } as LiveEvent;
    for (const fn of this.listeners) fn(event);
  }
}

/** Whether an event can change what a group's pages show. */
export function touchesGroup(e: LiveEvent, groupId: string): boolean {
  if (!/^(link|sync|conflict|inventory)\./.test(e.type)) return false;
  const g = e.data.sync_group_id ?? e.data.group_id ?? e.data.group;
  // Inventory events name a system, not a group: any of them may change any group's cells.
  return g === undefined || g === null || g === groupId || (typeof g === 'object' && g?.id === groupId);
}
