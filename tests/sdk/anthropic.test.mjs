// The official `@anthropic-ai/sdk` npm package as a client of
// switchyard-gateway's Messages API, in front of real switchyard-mock
// upstreams (see fixture.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

import { startStack, CLIENT_KEY, HEALTHY, FAILING } from './fixture.mjs';
import { setScenario, mockStats, resetStats, switchyardHeaders } from './support.mjs';
import { TOOL_CALL_ID } from './tool_upstream.mjs';

let stack;
let client;

// maxRetries 0: the SDK must see the gateway's first answer, not retry it.
const makeClient = (apiKey = CLIENT_KEY) =>
  new Anthropic({ apiKey, baseURL: stack.gateway.url, maxRetries: 0, timeout: 15000 });

const ask = (text) => [{ role: 'user', content: text }];
const textOf = (message) =>
  message.content
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('');

before(async () => {
  stack = await startStack();
  client = makeClient();
});

after(async () => {
  const stopped = await stack?.stop();
  for (const s of stopped ?? []) assert.equal(s.code, 0, `${s.name} (pid ${s.pid}) exit ${s.code ?? s.signal}`);
});

function assertSwitchyardHeaders(response, deployment) {
  const h = switchyardHeaders(response);
  assert.equal(h.deployment, deployment);
  assert.ok(h.provider, 'x-switchyard-provider is set');
  assert.ok(h.model, 'x-switchyard-model is set');
  assert.match(h.attempts ?? '', /^[1-9][0-9]*$/, 'x-switchyard-attempts is a count');
  return h;
}

test('non-streaming message in Anthropic shape, with the switchyard headers', async () => {
  const { data, response } = await client.messages
    .create({ model: 'claude-sonnet', max_tokens: 64, system: 'Be brief.', messages: ask('Say hello to the SDK') })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.type, 'message');
  assert.equal(data.role, 'assistant');
  assert.ok(data.id);
  assert.equal(data.stop_reason, 'end_turn');
  assert.equal(textOf(data).split(' ').length, 8, 'the mock answers 8 words');
  assert.equal(data.usage.output_tokens, 8);
  const h = assertSwitchyardHeaders(response, 'secondary-claude');
  assert.equal(h.provider, 'secondary');
  assert.equal(h.model, 'claude-sonnet-4-20250514');
  assert.equal(h.attempts, '1');
  assert.equal(h.fallbackReason, null);
});

test('the key in x-api-key, as Anthropic clients have long sent it', async () => {
  const legacy = new Anthropic({
    apiKey: null,
    authToken: null,
    defaultHeaders: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
    baseURL: stack.gateway.url,
    maxRetries: 0,
    timeout: 15000,
  });
  const message = await legacy.messages.create({ model: 'claude-sonnet', max_tokens: 64, messages: ask('Old style') });
  assert.equal(message.type, 'message');
  const err = await rejects(
    new Anthropic({
      apiKey: null,
      authToken: null,
      defaultHeaders: { 'x-api-key': 'sk-wrong' },
      baseURL: stack.gateway.url,
      maxRetries: 0,
    }).messages.create({ model: 'claude-sonnet', max_tokens: 16, messages: ask('Hi') }),
    Anthropic.AuthenticationError,
    401,
  );
  assertErrorType(err, 'authentication_error');
});

test('streaming message: Anthropic event sequence, same text as non-streaming', async () => {
  const messages = ask('Stream a few words');
  const whole = await client.messages.create({ model: 'claude-sonnet', max_tokens: 64, messages });
  const { data: stream, response } = await client.messages
    .create({ model: 'claude-sonnet', max_tokens: 64, messages, stream: true })
    .withResponse();
  assert.equal(response.status, 200);
  assertSwitchyardHeaders(response, 'secondary-claude');
  const types = [];
  let text = '';
  let stopReason = null;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    if (event.type === 'message_delta') stopReason = event.delta.stop_reason;
  }
  assert.equal(types[0], 'message_start');
  assert.equal(types[types.length - 1], 'message_stop');
  for (const t of ['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta'])
    assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
  assert.ok(types.filter((t) => t === 'content_block_delta').length > 1, 'streamed in pieces');
  assert.equal(text, textOf(whole));
  assert.equal(stopReason, 'end_turn');
});

test('streaming helper: messages.stream() assembles the final message', async () => {
  const stream = client.messages.stream({ model: 'claude-sonnet', max_tokens: 64, messages: ask('Helper stream') });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(textOf(final).split(' ').length, 8);
});

const weatherTool = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function toolRoundTrip(stream) {
  const before = stack.tool.requests.length;
  const messages = ask('What is the weather in Paris?');
  let first;
  if (!stream) {
    first = await client.messages.create({ model: 'tools', max_tokens: 64, messages, tools: [weatherTool] });
  } else {
    const s = client.messages.stream({ model: 'tools', max_tokens: 64, messages, tools: [weatherTool] });
    const kinds = [];
    s.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') kinds.push(e.delta.type);
    });
    first = await s.finalMessage();
    assert.ok(kinds.includes('input_json_delta'), `tool input streamed as input_json_delta (${kinds.join(',')})`);
  }
  assert.equal(first.stop_reason, 'tool_use');
  const uses = first.content.filter((b) => b.type === 'tool_use');
  assert.equal(uses.length, 1);
  assert.equal(uses[0].id, TOOL_CALL_ID);
  assert.equal(uses[0].name, 'get_weather');
  assert.deepEqual(uses[0].input, { city: 'Paris' });
  assert.equal(stack.tool.requests[before].tools[0].function.name, 'get_weather', 'tool definition reached upstream');

  const followUp = [
    ...messages,
    { role: 'assistant', content: first.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: 'sunny, 21 C' }] },
  ];
  const second = await client.messages.create({ model: 'tools', max_tokens: 64, messages: followUp, tools: [weatherTool] });
  assert.equal(second.stop_reason, 'end_turn');
  assert.match(textOf(second), /^the tool said: .*sunny, 21 C/);
  const upstream = stack.tool.requests[before + 1].messages;
  assert.equal(upstream.find((m) => m.role === 'assistant').tool_calls[0].id, TOOL_CALL_ID);
  assert.equal(upstream.find((m) => m.role === 'tool').tool_call_id, TOOL_CALL_ID);
}

test('tools: a tool use round trip (non-streaming)', () => toolRoundTrip(false));
test('tools: a tool use round trip with streamed input_json deltas', () => toolRoundTrip(true));

test('a primary that fails mid-test: the client sees only normal answers', async () => {
  const first = await client.messages
    .create({ model: 'claude-sonnet', max_tokens: 64, messages: ask('Before the failure') })
    .withResponse();
  assert.equal(switchyardHeaders(first.response).deployment, 'secondary-claude');

  await setScenario(stack.secondary, FAILING);
  await resetStats(stack.secondary);
  try {
    for (let i = 0; i < 3; i++) {
      const { data, response } = await client.messages
        .create({ model: 'claude-sonnet', max_tokens: 64, messages: ask(`During the failure ${i}`) })
        .withResponse();
      assert.equal(response.status, 200);
      assert.equal(data.type, 'message', 'Anthropic JSON although an OpenAI upstream answered');
      assert.equal(textOf(data).split(' ').length, 8);
      const h = assertSwitchyardHeaders(response, 'primary-gpt');
      assert.equal(h.provider, 'primary');
      assert.ok(Number(h.attempts) >= 2, `attempts ${h.attempts}`);
      assert.ok(h.fallbackReason, 'x-switchyard-fallback-reason names why');
    }
    const final = await client.messages
      .stream({ model: 'claude-sonnet', max_tokens: 64, messages: ask('A stream during the failure') })
      .finalMessage();
    assert.equal(textOf(final).split(' ').length, 8);
    const stats = await mockStats(stack.secondary);
    assert.ok((stats.faults.overloaded ?? 0) >= 4, `primary faults ${JSON.stringify(stats.faults)}`);
  } finally {
    await setScenario(stack.secondary, HEALTHY);
  }
  const healed = await client.messages
    .create({ model: 'claude-sonnet', max_tokens: 64, messages: ask('After the failure') })
    .withResponse();
  assert.equal(switchyardHeaders(healed.response).deployment, 'secondary-claude');
});

async function rejects(promise, ErrorClass, status) {
  let caught;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${ErrorClass.name}`);
  assert.ok(caught instanceof ErrorClass, `expected ${ErrorClass.name}, got ${caught.constructor.name}: ${caught.message}`);
  if (status !== undefined) assert.equal(caught.status, status);
  return caught;
}

// Anthropic's error body: {"type":"error","error":{"type":...,"message":...}}.
function assertErrorType(err, type) {
  assert.equal(err.error?.type, 'error', JSON.stringify(err.error));
  assert.equal(err.error?.error?.type, type, JSON.stringify(err.error));
}

test('429 from upstream: RateLimitError with retry-after', async () => {
  const err = await rejects(
    client.messages.create({ model: 'limited', max_tokens: 16, messages: ask('Too many') }),
    Anthropic.RateLimitError,
    429,
  );
  assert.ok(Number(err.headers.get('retry-after')) >= 1, `retry-after ${err.headers.get('retry-after')}`);
  assertErrorType(err, 'rate_limit_error');
});

test('upstream failures: InternalServerError (502)', async () => {
  const err = await rejects(
    client.messages.create({ model: 'broken', max_tokens: 16, messages: ask('Broken') }),
    Anthropic.InternalServerError,
    502,
  );
  assert.ok(!err.message.includes('127.0.0.1'), err.message);
  assertErrorType(err, 'api_error');
});

test('a stream whose upstream fails before its first token: InternalServerError', async () => {
  await rejects(
    client.messages.create({ model: 'broken', max_tokens: 16, messages: ask('Broken stream'), stream: true }),
    Anthropic.InternalServerError,
    502,
  );
});

test('a stream that breaks after content ends with an error event the SDK raises', async () => {
  const s = await client.messages.create({
    model: 'dropping',
    max_tokens: 64,
    messages: ask('Break after three words'),
    stream: true,
  });
  let text = '';
  let caught;
  const types = [];
  try {
    for await (const event of s) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Anthropic.APIError, `an APIError from event: error, got ${caught} after ${types.join(',')}`);
  assert.equal(text.split(' ').length, 3, `the three words before the break: ${JSON.stringify(text)}`);
  assert.ok(!types.includes('message_stop'), 'no message_stop after a break');
});

test('every breaker open: 529 overloaded_error, an InternalServerError', async () => {
  await stack.admin('standby-gpt', 'force-open');
  try {
    const err = await rejects(
      client.messages.create({ model: 'standby', max_tokens: 16, messages: ask('Nobody home') }),
      Anthropic.InternalServerError,
      529,
    );
    assert.ok(err instanceof Anthropic.OverloadedError);
    assertErrorType(err, 'overloaded_error');
  } finally {
    await stack.admin('standby-gpt', 'reset');
  }
  const ok = await client.messages.create({ model: 'standby', max_tokens: 16, messages: ask('Back again') });
  assert.equal(ok.stop_reason, 'end_turn');
});

test('unknown model: NotFoundError', async () => {
  const err = await rejects(
    client.messages.create({ model: 'no-such-route', max_tokens: 16, messages: ask('Hi') }),
    Anthropic.NotFoundError,
    404,
  );
  assertErrorType(err, 'not_found_error');
});

test('missing or wrong gateway key: AuthenticationError', async () => {
  const err = await rejects(
    makeClient('sk-wrong').messages.create({ model: 'claude-sonnet', max_tokens: 16, messages: ask('Hi') }),
    Anthropic.AuthenticationError,
    401,
  );
  assertErrorType(err, 'authentication_error');
  // No key at all: neither header (this SDK sends the key as a Bearer
  // token; older versions sent x-api-key).
  await rejects(
    makeClient('unused').messages.create(
      { model: 'claude-sonnet', max_tokens: 16, messages: ask('Hi') },
      { headers: { 'x-api-key': null, authorization: null } },
    ),
    Anthropic.AuthenticationError,
    401,
  );
});

test('a route the key may not use: PermissionDeniedError (403)', async () => {
  await rejects(
    client.messages.create({ model: 'forbidden', max_tokens: 16, messages: ask('Hi') }),
    Anthropic.PermissionDeniedError,
    403,
  );
});
