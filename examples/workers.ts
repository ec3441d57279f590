/**
 * Worker threads for the examples' `--workers N`: start one and wait until
 * it is listening, and keep N alive.
 *
 * Every worker listens on the same port (SO_REUSEPORT). A worker that dies
 * (an uncaught exception in it) closes its sockets as it goes
 * (lib/owned-fds.ts), so the kernel stops handing it connections and the
 * others go on serving; the supervisor logs why it died and starts a
 * replacement on the same port. A worker that cannot start, or one that dies
 * again and again (more than `maxRestarts` within a minute), ends the
 * process with exit code 1: a fault that repeats is not hidden behind
 * restarts.
 */
import type { Worker } from 'node:worker_threads';

/**
 * Resolves with the worker and its first message (its "listening" report);
 * rejects when it fails or exits before sending one (a worker that could not
 * bind may end itself with process.exit, which is no 'error').
 */
export function startWorker<M>(spawn: () => Worker, label: string): Promise<{ worker: Worker; ready: M }> {
  const worker = spawn();
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      worker.off('exit', onExit);
      reject(new Error(`${label} failed before it was listening: ${e.message}`));
    };
    const onExit = (code: number): void => {
      worker.off('error', onError);
      reject(new Error(`${label} exited (code ${code}) before it was listening`));
    };
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (ready: M) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve({ worker, ready });
    });
  });
}

/** What {@link supervise} needs besides the worker. */
export interface SuperviseOptions {
  /** Starts a replacement (same options as the worker it replaces). */
  spawn: () => Worker;
  /** Names the worker in messages, e.g. "worker 1". */
  label: string;
  /** Where messages go (default: stderr). */
  log?: (message: string) => void;
  /** Deaths within a minute after which the process gives up (default 5). */
  maxRestarts?: number;
  /** Ends the process (default process.exit); tests replace it. */
  exit?: (code: number) => void;
}

/**
 * Watches `worker`: when it dies, logs why and starts a replacement (see the
 * file comment). `stop()` ends the watch: deaths after it are left alone.
 */
export function supervise(worker: Worker, o: SuperviseOptions): { stop: () => void } {
  let stopped = false;
  const log = o.log ?? ((m: string): void => void process.stderr.write(`${m}\n`));
  const exit = o.exit ?? ((code: number): void => process.exit(code));
  const max = o.maxRestarts ?? 5;
  const deaths: number[] = [];
  const watch = (w: Worker): void => {
    let failure: Error | undefined;
    w.on('error', (e: Error) => { failure = e; });
    w.once('exit', (code: number) => {
      if (stopped) return;
      const now = Date.now();
      while (deaths.length > 0 && now - deaths[0]! > 60_000) deaths.shift();
      deaths.push(now);
      const why = failure ? (failure.stack ?? failure.message) : `exit code ${code}`;
      if (deaths.length > max) {
        log(`${o.label} died: ${why}\n${o.label} died ${deaths.length} times within a minute: giving up`);
        exit(1);
        return;
      }
      log(`${o.label} died: ${why}\nstarting a new ${o.label}`);
      startWorker(o.spawn, o.label).then(
        ({ worker: next }) => watch(next),
        (e: Error) => {
          log(`${e.message}: giving up`);
          exit(1);
        },
      );
    });
  };
  watch(worker);
  return { stop: () => { stopped = true; } };
}
