/**
 * Where the two cores go during a phase, from /proc: the load generator (this
 * process), the tunnel process, workerd (with its busiest thread, which is
 * where the isolate's JavaScript runs), Postgres (postmaster, live backends,
 * and the CPU of backends that already exited, via the postmaster's cutime),
 * and everything else on the machine.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK = 100; // USER_HZ on Linux

function stat(pid: number): { utime: number; stime: number; cutime: number; cstime: number; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(f[1]),
      utime: Number(f[11]),
      stime: Number(f[12]),
      cutime: Number(f[13]),
      cstime: Number(f[14]),
    };
  } catch {
    return null;
  }
}

function own(pid: number): number {
  const s = stat(pid);
  return s ? s.utime + s.stime : 0;
}

function threads(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = stat(Number(t)) ?? null;
      // /proc/<tid>/stat works for threads too.
      if (s) out.set(Number(t), s.utime + s.stime);
    }
  } catch {}
  return out;
}

function machine(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export type CpuPids = { tunnel: number | null; workerd: number | null; postmaster: number | null };

type Snapshot = {
  at: number;
  self: number;
  tunnel: number;
  workerd: number;
  workerdThreads: Map<number, number>;
  postgres: number;
  machine: { busy: number; total: number };
};

function postgresTicks(postmaster: number | null): number {
  if (!postmaster) return 0;
  const pm = stat(postmaster);
  if (!pm) return 0;
  let sum = pm.utime + pm.stime + pm.cutime + pm.cstime;
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === postmaster) continue;
    const s = stat(pid);
    if (s && s.ppid === postmaster) sum += s.utime + s.stime;
  }
  return sum;
}

function snapshot(p: CpuPids): Snapshot {
  const u = process.cpuUsage();
  return {
    at: performance.now(),
    self: (u.user + u.system) / 1e4, // µs → ticks
    tunnel: p.tunnel ? own(p.tunnel) : 0,
    workerd: p.workerd ? own(p.workerd) : 0,
    workerdThreads: p.workerd ? threads(p.workerd) : new Map(),
    postgres: postgresTicks(p.postmaster),
    machine: machine(),
  };
}

/** Shares of one core (100 = one core busy) over a phase. */
export type CpuSplit = {
  seconds: number;
  loadgen: number;
  tunnel: number;
  workerd: number;
  workerdBusiestThread: number;
  postgres: number;
  other: number;
  machineBusy: number;
  cores: number;
};

export function startCpu(pids: CpuPids): () => CpuSplit {
  const a = snapshot(pids);
  return () => {
    const b = snapshot(pids);
    const secs = (b.at - a.at) / 1000;
    const pct = (ticks: number) => Math.round((ticks / TICK / secs) * 1000) / 10;
    let busiest = 0;
    for (const [tid, t] of b.workerdThreads) busiest = Math.max(busiest, t - (a.workerdThreads.get(tid) ?? 0));
    const machineBusy = ((b.machine.busy - a.machine.busy) / TICK / secs) * 100;
    const ours = [b.self - a.self, b.tunnel - a.tunnel, b.workerd - a.workerd, b.postgres - a.postgres].map(pct);
    const [loadgen = 0, tunnel = 0, workerd = 0, postgres = 0] = ours;
    // /proc/stat sums ticks over all CPUs, so busy ticks / USER_HZ / seconds is already "cores busy".
    return {
      seconds: Math.round(secs * 10) / 10,
      loadgen,
      tunnel,
      workerd,
      workerdBusiestThread: pct(busiest),
      postgres,
      other: Math.max(0, Math.round((machineBusy - loadgen - tunnel - workerd - postgres) * 10) / 10),
      machineBusy: Math.round(machineBusy * 10) / 10,
      cores: coreCount(),
    };
  };
}

function coreCount(): number {
  try {
    return readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .filter((l) => l.startsWith("processor")).length;
  } catch {
    return 0;
  }
}
