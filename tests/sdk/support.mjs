// Test support: starts real switchyard-mock and switchyard-gateway processes
// on 127.0.0.1 (ports chosen by the OS), reads the port from their first
// stdout line and stops them by PID. Every wait is bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LISTENING = /^listening on 127\.0\.0\.1:(\d+)$/;

export function buildDir() {
  const dir = process.env.SWITCHYARD_BUILD_DIR;
  if (!dir) throw new Error('SWITCHYARD_BUILD_DIR is not set (tests/sdk/run.sh sets it)');
  return dir;
}

export function binary(name) {
  const path = join(buildDir(), 'bin', name);
  if (!existsSync(path)) throw new Error(`no ${path} (build target ${name})`);
  return path;
}

const tempDirs = [];
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-sdk-'));
  tempDirs.push(dir);
  return dir;
}

export function writeJson(dir, name, value) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

// A started child process; `port` is the one it reported.
class Server {
  constructor(name, child, port) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.stderr = '';
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  // SIGTERM by PID, then SIGKILL if it has not exited within `graceMs`.
  async stop(graceMs = 5000) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      return this.exited;
    }
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {}
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

const started = [];

// Starts `path args...` and waits (at most `timeoutMs`) for its first stdout
// line `listening on 127.0.0.1:PORT`.
export async function startServer(name, path, args, timeoutMs = 10000) {
  const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 65536) stderr = stderr.slice(-65536);
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${name} did not report its port within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    const onData = (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      cleanup();
      const m = LISTENING.exec(out.slice(0, nl));
      if (m) resolve(Number(m[1]));
      else reject(new Error(`${name}: unexpected first line ${JSON.stringify(out.slice(0, nl))}`));
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${name} exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  }).catch(async (err) => {
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
    throw err;
  });
  child.stdout.resume(); // keep draining: a full pipe must never block it
  const server = new Server(name, child, port);
  Object.defineProperty(server, 'stderr', { get: () => stderr });
  started.push(server);
  return server;
}

export async function startMock(scenario, extraArgs = []) {
  const args = ['--port', '0', ...extraArgs];
  if (scenario) args.push('--scenario', writeJson(tempDir(), 'scenario.json', scenario));
  return startServer('switchyard-mock', binary('switchyard-mock'), args);
}

export async function startGateway(config, extraArgs = []) {
  const file = writeJson(tempDir(), 'gateway.json', config);
  return startServer('switchyard-gateway', binary('switchyard-gateway'), [
    '--config',
    file,
    '--listen',
    '127.0.0.1:0',
    ...extraArgs,
  ]);
}

// Stops every server started here (by PID) and removes the temp files.
export async function stopAll() {
  const servers = started.splice(0);
  const results = await Promise.all(servers.map((s) => s.stop()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  return servers.map((s, i) => ({ name: s.name, pid: s.pid, ...results[i] }));
}

// Replaces a mock's scenario at run time (POST /mock/scenario).
export async function setScenario(mock, scenario) {
  const res = await fetch(`${mock.url}/mock/scenario`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(scenario),
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new Error(`mock scenario: ${res.status} ${await res.text()}`);
}

export async function mockStats(mock) {
  const res = await fetch(`${mock.url}/mock/stats`, { signal: AbortSignal.timeout(5000) });
  return res.json();
}

export async function resetStats(mock) {
  await fetch(`${mock.url}/mock/stats/reset`, { method: 'POST', signal: AbortSignal.timeout(5000) });
}

// The four headers the gateway puts on every answer.
export function switchyardHeaders(response) {
  const h = response.headers;
  return {
    provider: h.get('x-switchyard-provider'),
    model: h.get('x-switchyard-model'),
    deployment: h.get('x-switchyard-deployment'),
    attempts: h.get('x-switchyard-attempts'),
    fallbackReason: h.get('x-switchyard-fallback-reason'),
  };
}
