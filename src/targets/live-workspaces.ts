import type { Workspace } from './executor.js';

/** The workspaces an executor handed out and that are not disposed yet, so `close()` can dispose them. */
export function createLiveWorkspaces() {
  const live = new Set<Workspace>();
  return {
    /** Tracks a new workspace; its dispose() stops the tracking. */
    track(ws: Workspace): Workspace {
      live.add(ws);
      const dispose = ws.dispose.bind(ws);
      return Object.assign(ws, {
        dispose: async () => {
          live.delete(ws);
          await dispose();
        },
      });
    },
    /** Disposes every workspace still open; one that fails does not stop the others. */
    async disposeAll(): Promise<void> {
      await Promise.allSettled([...live].map((ws) => ws.dispose()));
    },
  };
}
