/**
 * bench/nop: the ring's own round trip. Batches of 1, 32 and 256 `nop()`s are
 * issued together and awaited with Promise.all, measured with the `benchmark`
 * package; printed as nops/s next to the C reference (bench/c/nop-ref.c: the
 * same batches on our ring layer, no JavaScript), as a ratio.
 *
 * usage: node dist/bench/nop.js [--batches 1,32,256] [--max-time 3]
 */
import { Ring } from '../lib/ring';
import { compileC, fmt, numArg, parseArgs, printTable, ratio, runJson, RING_SOURCES } from './util';

/** The part of benchmark.js used here (the package ships no types). */
interface Deferred { resolve(): void }
interface BenchmarkStats { rme: number; sample: number[] }
interface BenchmarkInstance { hz: number; stats: BenchmarkStats; error?: unknown }
interface SuiteLike {
  add(name: string, fn: (d: Deferred) => void, options: { defer: true; maxTime: number }): SuiteLike;
  on(event: 'cycle' | 'complete', fn: (ev: { target: BenchmarkInstance & { name: string } }) => void): SuiteLike;
  run(options: { async: boolean }): void;
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const Benchmark = require('benchmark') as { Suite: new (name: string) => SuiteLike };

const args = parseArgs();
const BATCHES = (args.get('batches') ?? '1,32,256').split(',').map(Number);
const MAX_TIME = numArg(args, 'max-time', 3);

async function main(): Promise<void> {
  const ring = new Ring();
  const results = new Map<number, { hz: number; rme: number }>();
  await new Promise<void>((resolve) => {
    const suite = new Benchmark.Suite('nop');
    for (const n of BATCHES) {
      const batch: Promise<number>[] = new Array(n);
      suite.add(`nop x${n}`, (d: Deferred) => {
        for (let i = 0; i < n; i++) batch[i] = ring.nop();
        Promise.all(batch).then(() => d.resolve(), (e: unknown) => { throw e; });
      }, { defer: true, maxTime: MAX_TIME });
    }
    suite.on('cycle', (ev) => {
      const t = ev.target;
      if (t.error) throw t.error;
      const n = Number(t.name.slice(5));
      results.set(n, { hz: t.hz, rme: t.stats.rme });
      console.log(`# ${t.name}: ${fmt(t.hz)} batches/s ±${t.stats.rme.toFixed(1)}% (${t.stats.sample.length} samples)`);
    });
    suite.on('complete', () => resolve());
    suite.run({ async: true });
  });
  ring.destroy();

  const bin = compileC('nop-ref', RING_SOURCES);
  const rows = [['batch', 'ours nops/s', 'ours batches/s', 'C nops/s', 'ours / C']];
  for (const n of BATCHES) {
    const r = results.get(n)!;
    const c = runJson<{ nopsPerSec: number }>(bin, [String(n), '2']);
    rows.push([String(n), fmt(r.hz * n), fmt(r.hz), fmt(c.nopsPerSec), ratio(r.hz * n, c.nopsPerSec)]);
  }
  console.log('');
  printTable(rows);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
