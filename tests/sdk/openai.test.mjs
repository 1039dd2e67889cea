// The official `openai` npm package as a client of switchyard-gateway, which
// sits in front of real switchyard-mock upstreams (see fixture.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startStack, CLIENT_KEY, HEALTHY, FAILING } from './fixture.mjs';
import { setScenario, mockStats, resetStats, switchyardHeaders } from './support.mjs';
import { TOOL_CALL_ID, TOOL_ARGUMENTS } from './tool_upstream.mjs';

let stack;
let client;

// maxRetries 0: the SDK must see the gateway's first answer, not retry it.
const makeClient = (apiKey = CLIENT_KEY) =>
  new OpenAI({ apiKey, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 15000 });

const ask = (text) => [{ role: 'user', content: text }];

before(async () => {
  stack = await startStack();
  client = makeClient();
});

after(async () => {
  const stopped = await stack?.stop();
  // The gateway exits 0 on SIGTERM (issue 11); the mocks too.
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

test('non-streaming answer in OpenAI shape, with the switchyard headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: ask('Say hello to the SDK') })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.object, 'chat.completion');
  assert.ok(data.id);
  assert.equal(typeof data.created, 'number');
  assert.equal(data.choices.length, 1);
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content.split(' ').length, 8, 'the mock answers 8 words');
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.completion_tokens, 8);
  const h = assertSwitchyardHeaders(response, 'primary-gpt');
  assert.equal(h.provider, 'primary');
  assert.equal(h.model, 'gpt-4o-mini');
  assert.equal(h.attempts, '1');
  assert.equal(h.fallbackReason, null, 'no fallback happened');
});

test('the same question gets the same answer (deterministic mock, nothing lost in between)', async () => {
  const a = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('Repeat me') });
  const b = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('Repeat me') });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test('streaming answer: chunks with deltas, usage chunk, same text as non-streaming', async () => {
  const messages = ask('Stream a few words');
  const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } })
    .withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  assertSwitchyardHeaders(response, 'primary-gpt');
  let text = '';
  let contentChunks = 0;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta?.content) {
        text += choice.delta.content;
        contentChunks += 1;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.ok(contentChunks > 1, `streamed in pieces (${contentChunks} content chunks)`);
  assert.equal(finish, 'stop');
  assert.ok(usage, 'include_usage gives a usage chunk');
  assert.equal(usage.completion_tokens, 8);
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

async function toolRoundTrip(stream) {
  const before = stack.tool.requests.length;
  const messages = ask('What is the weather in Paris?');
  let call;
  if (!stream) {
    const first = await client.chat.completions.create({ model: 'tools', messages, tools: [weatherTool] });
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(first.choices[0].message.tool_calls.length, 1);
    call = first.choices[0].message.tool_calls[0];
  } else {
    const s = await client.chat.completions.create({ model: 'tools', messages, tools: [weatherTool], stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of s) {
      for (const choice of chunk.choices) {
        for (const d of choice.delta?.tool_calls ?? []) {
          calls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
          if (d.id) calls[d.index].id = d.id;
          if (d.function?.name) calls[d.index].function.name += d.function.name;
          if (d.function?.arguments) calls[d.index].function.arguments += d.function.arguments;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    call = calls[0];
  }
  assert.equal(call.id, TOOL_CALL_ID);
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), JSON.parse(TOOL_ARGUMENTS));
  // The upstream got the tool definition through the gateway.
  assert.equal(stack.tool.requests[before].tools[0].function.name, 'get_weather');

  const followUp = [
    ...messages,
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' },
  ];
  const second = await client.chat.completions.create({ model: 'tools', messages: followUp, tools: [weatherTool] });
  assert.equal(second.choices[0].message.content, 'the tool said: sunny, 21 C');
  assert.equal(second.choices[0].finish_reason, 'stop');
  // The assistant's tool call and the tool result reached the upstream intact.
  const upstream = stack.tool.requests[before + 1].messages;
  const assistant = upstream.find((m) => m.role === 'assistant');
  assert.equal(assistant.tool_calls[0].id, TOOL_CALL_ID);
  assert.equal(assistant.tool_calls[0].function.name, 'get_weather');
  const tool = upstream.find((m) => m.role === 'tool');
  assert.equal(tool.tool_call_id, TOOL_CALL_ID);
}

test('tools: a tool call round trip (non-streaming)', () => toolRoundTrip(false));
test('tools: a tool call round trip with streamed tool-call deltas', () => toolRoundTrip(true));

test('a primary that fails mid-test: the client sees only normal answers', async () => {
  const first = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: ask('Before the failure') })
    .withResponse();
  assert.equal(switchyardHeaders(first.response).deployment, 'primary-gpt');

  await setScenario(stack.primary, FAILING);
  await resetStats(stack.primary);
  try {
    for (let i = 0; i < 3; i++) {
      // OpenAI-only sampling hints must not make the Anthropic fallback fail.
      const { data, response } = await client.chat.completions
        .create({
          model: 'gpt-4o-mini',
          messages: ask(`During the failure ${i}`),
          seed: 7,
          presence_penalty: 0.5,
          frequency_penalty: 0.25,
        })
        .withResponse();
      assert.equal(response.status, 200);
      assert.equal(data.object, 'chat.completion', 'OpenAI JSON although Anthropic answered');
      assert.equal(data.choices[0].message.content.split(' ').length, 8);
      const h = assertSwitchyardHeaders(response, 'secondary-claude');
      assert.equal(h.provider, 'secondary');
      assert.ok(Number(h.attempts) >= 2, `attempts ${h.attempts}`);
      assert.ok(h.fallbackReason, 'x-switchyard-fallback-reason names why');
    }
    const s = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: ask('A stream during the failure'),
      stream: true,
    });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text.split(' ').length, 8);
    // The primary really was asked and failed.
    const stats = await mockStats(stack.primary);
    assert.ok((stats.faults.overloaded ?? 0) >= 4, `primary faults ${JSON.stringify(stats.faults)}`);
  } finally {
    await setScenario(stack.primary, HEALTHY);
  }
  const healed = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: ask('After the failure') })
    .withResponse();
  assert.equal(switchyardHeaders(healed.response).deployment, 'primary-gpt');
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

test('429 from upstream: RateLimitError with retry-after', async () => {
  const err = await rejects(
    client.chat.completions.create({ model: 'limited', messages: ask('Too many') }),
    OpenAI.RateLimitError,
    429,
  );
  assert.ok(Number(err.headers.get('retry-after')) >= 1, `retry-after ${err.headers.get('retry-after')}`);
  assert.ok(err.error, 'an OpenAI error object');
});

test('upstream failures: InternalServerError (502), no upstream URL in the message', async () => {
  const err = await rejects(
    client.chat.completions.create({ model: 'broken', messages: ask('Broken') }),
    OpenAI.InternalServerError,
    502,
  );
  assert.ok(!err.message.includes('127.0.0.1'), err.message);
});

test('a stream whose upstream fails before its first token: InternalServerError', async () => {
  await rejects(
    client.chat.completions.create({ model: 'broken', messages: ask('Broken stream'), stream: true }),
    OpenAI.InternalServerError,
    502,
  );
});

test('a stream that breaks after content ends with an error the SDK raises', async () => {
  const s = await client.chat.completions.create({
    model: 'dropping',
    messages: ask('Break after three words'),
    stream: true,
  });
  let text = '';
  let caught;
  try {
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof OpenAI.APIError, `an APIError from the error event, got ${caught}`);
  assert.equal(text.split(' ').length, 3, `the three words before the break: ${JSON.stringify(text)}`);
});

test('every breaker open: InternalServerError (503)', async () => {
  await stack.admin('standby-gpt', 'force-open');
  try {
    await rejects(
      client.chat.completions.create({ model: 'standby', messages: ask('Nobody home') }),
      OpenAI.InternalServerError,
      503,
    );
  } finally {
    await stack.admin('standby-gpt', 'reset');
  }
  const ok = await client.chat.completions.create({ model: 'standby', messages: ask('Back again') });
  assert.equal(ok.choices[0].finish_reason, 'stop');
});

test('unknown model: NotFoundError with code model_not_found', async () => {
  const err = await rejects(
    client.chat.completions.create({ model: 'no-such-route', messages: ask('Hi') }),
    OpenAI.NotFoundError,
    404,
  );
  assert.equal(err.code, 'model_not_found');
});

test('missing or wrong gateway key: AuthenticationError', async () => {
  await rejects(
    makeClient('sk-wrong').chat.completions.create({ model: 'gpt-4o-mini', messages: ask('Hi') }),
    OpenAI.AuthenticationError,
    401,
  );
  // No key at all: the SDK refuses an empty apiKey, so send no Authorization.
  const noKey = makeClient('unused');
  await rejects(
    noKey.chat.completions.create(
      { model: 'gpt-4o-mini', messages: ask('Hi') },
      { headers: { authorization: null } },
    ),
    OpenAI.AuthenticationError,
    401,
  );
});

test('a route the key may not use: PermissionDeniedError (403)', async () => {
  await rejects(
    client.chat.completions.create({ model: 'forbidden', messages: ask('Hi') }),
    OpenAI.PermissionDeniedError,
    403,
  );
});

test('models list: the routes the key may use', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o-mini') && ids.includes('tools'), ids.join(','));
  assert.ok(!ids.includes('forbidden'), 'a route outside the allow-list is not listed');
});
