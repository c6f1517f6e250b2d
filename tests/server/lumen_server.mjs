// Starts `lumen serve` on a free loopback port for a test and stops it afterwards. The binary
// comes from $LUMEN_BINARY (CTest sets it); the bundled default model is used.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import OpenAI from 'openai';

const BINARY = process.env.LUMEN_BINARY ?? new URL('../../build/lumen', import.meta.url).pathname;

export async function startServer(extraArgs = [], { startTimeoutMs = 30000 } = {}) {
  // --port 0: the kernel picks a free port and the server prints it, so there is no race
  // between choosing a port and binding it.
  const proc = spawn(BINARY, ['serve', '--host', '127.0.0.1', '--port', '0', '-t', '1', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lumen serve did not start:\n${stderr}`)), startTimeoutMs);
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lumen serve exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    stderr: () => stderr,
    client: (options = {}) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60000, ...options }),
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return signal ?? code;
    },
  };
}

// POSTs a raw body (for requests the OpenAI client would never send).
export async function post(url, path, body, headers = {}) {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, text };
}

// GET /metrics as {name: value}.
export async function metrics(url, headers = {}) {
  const response = await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10000) });
  const values = {};
  for (const line of (await response.text()).split('\n')) {
    const match = /^lumen_(\w+) (\S+)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

// Polls until check(metrics) holds; fails with the last metrics after timeoutMs.
export async function waitForMetrics(url, check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await metrics(url);
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`metrics never matched: ${JSON.stringify(last)}`);
}

// Reads an SSE response body into the list of its data payloads.
export async function readEvents(response) {
  const text = await response.text();
  return text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
}
