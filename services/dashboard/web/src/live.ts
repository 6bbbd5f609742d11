import { useEffect, useRef, useState } from 'preact/hooks';
import { API, storedToken } from './api.js';
import { EventStream, type LiveEvent, type StreamState } from './sse.js';

/** One stream per tab, shared by every page. */
export const live = new EventStream(`${API}/events/stream`, storedToken);

/** Run `fn` for every live event while the component is shown. */
export function useLiveEvents(fn: (e: LiveEvent) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => live.subscribe((e) => ref.current(e)), []);
}

export function useStreamState(): StreamState {
  const [s, setS] = useState<StreamState>(live.state);
  useEffect(() => live.onState(setS), []);
  return s;
}
