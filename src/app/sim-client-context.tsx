// Components reach the simulation client and the page store through context, so tests hand
// in a fake client and the app hands in the worker client.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { SimClient } from '../worker/protocol';
import { createLabStore, type LabStore } from './store/lab-store';
import type { LabState } from './store/types';

interface LabContextValue {
  client: SimClient;
  store: LabStore;
}

const LabContext = createContext<LabContextValue | null>(null);

export function SimClientProvider({
  client,
  store,
  children,
}: {
  client: SimClient;
  /** A store made for this client; one is created when omitted. */
  store?: LabStore;
  children: ReactNode;
}) {
  const [value] = useState<LabContextValue>(() => ({ client, store: store ?? createLabStore(client) }));
  useEffect(() => value.store.connect(), [value]);
  return <LabContext.Provider value={value}>{children}</LabContext.Provider>;
}

function useLabContext(): LabContextValue {
  const value = useContext(LabContext);
  if (!value) throw new Error('nestlab components must be inside <SimClientProvider>');
  return value;
}

export function useSimClient(): SimClient {
  return useLabContext().client;
}

export function useLabStoreApi(): LabStore {
  return useLabContext().store;
}

/** Reads the page store through a (module-level) selector. */
export function useLab<T>(selector: (state: LabState) => T): T {
  return useStore(useLabContext().store, selector);
}
