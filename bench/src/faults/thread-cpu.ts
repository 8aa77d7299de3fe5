/**
 * CPU time per thread of a process, from /proc/<pid>/task/<tid>/stat, and which Kafka client each
 * of librdkafka's threads serves.
 *
 * Why per thread: librdkafka runs one thread per client ("rdk:main") and one per broker it knows
 * ("rdk:broker<node id>", "rdk:broker-1" for the bootstrap and internal ones), so a thread's name
 * says what it talks to. It does not say which client it belongs to: an aggregator has five
 * clients (two producers, two consumers, an admin client), and each has its own "rdk:broker2".
 * librdkafka's debug information (shipped with the package) does, so `clientsOfThreads` asks gdb,
 * once, for the client id behind every librdkafka thread, and which node each client takes for
 * the cluster's controller.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface ThreadSample {
  tid: number;
  name: string;
  /** CPU seconds (user + system) since the thread started. */
  cpu: number;
}

/** Every thread of a process now; empty once the process is gone. */
export function threadSamples(pid: number): ThreadSample[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const samples: ThreadSample[] = [];
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces: the fields are counted from its end.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      samples.push({ tid: Number(tid), name, cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
    } catch {
      // the thread ended meanwhile
    }
  }
  return samples;
}

/** CPU seconds each thread used between two samples (a thread born in between counts from 0). */
export function threadDeltas(before: ThreadSample[], after: ThreadSample[]): ThreadSample[] {
  const start = new Map(before.map((t) => [t.tid, t.cpu]));
  return after.map((t) => ({ ...t, cpu: t.cpu - (start.get(t.tid) ?? 0) }));
}

/**
 * gdb's Python, run in the attached process: for each thread whose stack holds librdkafka's
 * thread function, the client id of its client and, for a broker thread, the broker's name.
 * The process is paused while gdb looks (well under a second).
 */
const GDB_SCRIPT = `
import gdb
for thread in gdb.selected_inferior().threads():
    thread.switch()
    frame = gdb.newest_frame()
    while frame is not None and frame.name() not in ('rd_kafka_broker_thread_main', 'rd_kafka_thread_main'):
        frame = frame.older()
    if frame is None:
        continue
    frame.select()
    try:
        if frame.name() == 'rd_kafka_broker_thread_main':
            rkb = gdb.parse_and_eval('(rd_kafka_broker_t *)arg')
            client = rkb['rkb_rk']['rk_conf']['client_id_str'].string()
            what = rkb['rkb_name'].string()
        else:
            rk = gdb.parse_and_eval('(rd_kafka_t *)arg')
            client = rk['rk_conf']['client_id_str'].string()
            # The node the client takes for the controller (an admin client sends its requests there).
            what = 'main (controller %d)' % int(rk['rk_controllerid'])
        print('ERIC-THREAD %d %s %s' % (thread.ptid[1], client, what))
    except gdb.error as error:
        print('ERIC-THREAD %d ? %s' % (thread.ptid[1], error))
`;

/** Thread id → "client id · broker" for every librdkafka thread of the process (empty if gdb cannot attach). */
export async function clientsOfThreads(pid: number): Promise<Map<number, string>> {
  const clients = new Map<number, string>();
  // gdb runs a file ending in .py as Python.
  const directory = mkdtempSync(`${tmpdir()}/eric-threads-`);
  writeFileSync(`${directory}/threads.py`, GDB_SCRIPT);
  try {
    const { stdout } = await execFileAsync('gdb', ['--batch', '--nx', '-p', String(pid), '-x', `${directory}/threads.py`], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    for (const line of stdout.split('\n')) {
      const match = /^ERIC-THREAD (\d+) (\S+) (.*)$/.exec(line);
      if (match) clients.set(Number(match[1]), `${match[2]} · ${match[3]}`);
    }
  } catch {
    // no gdb, or not allowed to attach: the table shows thread names only
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return clients;
}

/** The node a client (by its client id) takes for the controller, from `clientsOfThreads`' answer. */
export function controllerOf(clients: Map<number, string>, clientId: string): number | undefined {
  for (const value of clients.values()) {
    const match = /^(\S+) · main \(controller (-?\d+)\)$/.exec(value);
    if (match && match[1] === clientId && Number(match[2]) >= 0) return Number(match[2]);
  }
  return undefined;
}
