// One gateway in front of faulty upstreams, shared by the tests of a file:
//
//   mock `primary`   (OpenAI wire)    deployments primary-gpt, limited-gpt,
//                                     broken-gpt, standby-gpt
//   mock `secondary` (Anthropic wire) deployment secondary-claude
//   tool upstream    (OpenAI wire)    deployment tools-gpt
//
// Routes (the `model` a client names):
//   gpt-4o-mini    primary-gpt → secondary-claude   (OpenAI clients' failover)
//   claude-sonnet  secondary-claude → primary-gpt   (Anthropic clients' failover)
//   tools          tools-gpt
//   limited        limited-gpt: every call is a 429 from upstream
//   broken         broken-gpt: every call is a 500 from upstream
//   standby        standby-gpt: healthy; tests force its breaker open
//   dropping       dropping-gpt: streams break after 3 words (stream_failover error)
//   forbidden      primary-gpt, not in the client key's allow-list
import { startMock, startGateway, stopAll } from './support.mjs';
import { startToolUpstream } from './tool_upstream.mjs';

export const CLIENT_KEY = 'sk-switchyard-sdk-test-client';
export const ADMIN_KEY = 'sk-switchyard-sdk-test-admin';

// Mock scenarios: a healthy one, and one where every request fails.
export const HEALTHY = { defaults: { words: 8 } };
export const FAILING = { defaults: { words: 8 }, rules: [{ faults: [{ fault: 'overloaded', p: 1 }] }] };

export function gatewayConfig({ primaryPort, secondaryPort, toolPort }) {
  const mock = (port) => `http://127.0.0.1:${port}`;
  // Breakers that do not trip during a test run (the failover tests count on
  // the primary being asked again), except where a test forces them.
  const breaker = { consecutive_failures: 1000, failure_rate: 0 };
  const deployment = (provider, model, extra = {}) => ({ provider, model, breaker, ...extra });
  return {
    providers: {
      primary: { kind: 'openai_chat', base_url: mock(primaryPort) },
      secondary: { kind: 'anthropic_messages', base_url: mock(secondaryPort) },
      limited: {
        kind: 'openai_chat',
        base_url: mock(primaryPort),
        headers: { 'x-mock-fault': 'rate_limit=7' },
      },
      broken: { kind: 'openai_chat', base_url: mock(primaryPort), headers: { 'x-mock-fault': 'server_error' } },
      dropping: { kind: 'openai_chat', base_url: mock(primaryPort), headers: { 'x-mock-fault': 'drop_after=3' } },
      tools: { kind: 'openai_chat', base_url: mock(toolPort) },
    },
    deployments: {
      'primary-gpt': deployment('primary', 'gpt-4o-mini'),
      'secondary-claude': deployment('secondary', 'claude-sonnet-4-20250514'),
      'limited-gpt': deployment('limited', 'gpt-4o-mini', { limits: { follow_headers: false } }),
      'broken-gpt': deployment('broken', 'gpt-4o-mini'),
      'standby-gpt': deployment('primary', 'gpt-4o-mini'),
      'dropping-gpt': deployment('dropping', 'gpt-4o-mini'),
      'tools-gpt': deployment('tools', 'gpt-4o-mini'),
    },
    routes: {
      'gpt-4o-mini': { targets: ['primary-gpt', 'secondary-claude'] },
      'claude-sonnet': { targets: ['secondary-claude', 'primary-gpt'] },
      tools: { targets: ['tools-gpt'] },
      limited: { targets: ['limited-gpt'] },
      broken: { targets: ['broken-gpt'] },
      standby: { targets: ['standby-gpt'] },
      dropping: { targets: ['dropping-gpt'], stream_failover: 'error' },
      forbidden: { targets: ['primary-gpt'] },
    },
    defaults: {
      // No retries of the same deployment: a failed primary falls back at
      // once and the error tests answer without backoff waits.
      retry: { max_retries: { rate_limited: 0, server_error: 0, overloaded: 0, timeout: 0 } },
      deadline_ms: 10000,
      ladder_ms: [5000],
    },
    gateway: {
      keys: [
        {
          key: CLIENT_KEY,
          routes: ['gpt-4o-mini', 'claude-sonnet', 'tools', 'limited', 'broken', 'standby', 'dropping'],
        },
      ],
      admin_key: ADMIN_KEY,
      // Teardown sends SIGTERM and expects exit 0 within 5 s.
      drain_grace_ms: 3000,
    },
  };
}

// Starts the mocks, the tool upstream and the gateway. `stop()` stops them
// all (the processes by PID).
export async function startStack() {
  const tool = await startToolUpstream();
  try {
    const [primary, secondary] = await Promise.all([startMock(HEALTHY), startMock(HEALTHY)]);
    const config = gatewayConfig({ primaryPort: primary.port, secondaryPort: secondary.port, toolPort: tool.port });
    const gateway = await startGateway(config);
    return {
      primary,
      secondary,
      tool,
      gateway,
      config,
      async admin(deployment, command) {
        const res = await fetch(`${gateway.url}/admin/deployments/${deployment}/${command}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
          signal: AbortSignal.timeout(5000),
        });
        if (res.status !== 200) throw new Error(`admin ${command} ${deployment}: ${res.status} ${await res.text()}`);
      },
      async stop() {
        await tool.close();
        return stopAll();
      },
    };
  } catch (err) {
    await tool.close();
    await stopAll();
    throw err;
  }
}
