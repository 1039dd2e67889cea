// A small upstream on 127.0.0.1 that speaks OpenAI's chat completions wire
// format and asks for a tool: switchyard-mock answers text only, so the tool
// round trip needs an upstream that returns tool calls.
//
// - the request has `tools` and its last message is not a tool result: the
//   answer is one call of the first tool, arguments {"city":"Paris"},
//   finish_reason "tool_calls" (streamed: the call's id and name first, then
//   the arguments in three pieces);
// - the last message is a tool result: the answer is the text
//   `the tool said: <result>`, finish_reason "stop".
// Every request body is kept in `requests` for the tests to inspect.
import { createServer } from 'node:http';

export const TOOL_CALL_ID = 'call_sdk_1';
export const TOOL_ARGUMENTS = '{"city":"Paris"}';

function answerFor(body) {
  const messages = body.messages ?? [];
  const last = messages[messages.length - 1] ?? {};
  if (last.role === 'tool') {
    const result = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
    return { text: `the tool said: ${result}` };
  }
  if (Array.isArray(body.tools) && body.tools.length > 0)
    return { tool: body.tools[0].function.name };
  return { text: 'no tools were offered' };
}

function completion(body, answer) {
  const message = answer.tool
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: TOOL_CALL_ID, type: 'function', function: { name: answer.tool, arguments: TOOL_ARGUMENTS } },
        ],
      }
    : { role: 'assistant', content: answer.text };
  return {
    id: 'chatcmpl-tool-upstream',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, message, finish_reason: answer.tool ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

function chunks(body, answer) {
  const base = {
    id: 'chatcmpl-tool-upstream',
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
  };
  const chunk = (delta, finish = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  const out = [chunk({ role: 'assistant', content: '' })];
  if (answer.tool) {
    out.push(
      chunk({
        tool_calls: [{ index: 0, id: TOOL_CALL_ID, type: 'function', function: { name: answer.tool, arguments: '' } }],
      }),
    );
    for (const piece of ['{"city"', ':"Par', 'is"}'])
      out.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    out.push(chunk({}, 'tool_calls'));
  } else {
    const words = answer.text.split(' ');
    words.forEach((w, i) => out.push(chunk({ content: i === 0 ? w : ` ${w}` })));
    out.push(chunk({}, 'stop'));
  }
  if (body.stream_options?.include_usage)
    out.push({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  return out;
}

export async function startToolUpstream() {
  const requests = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error' } }));
        return;
      }
      if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      requests.push(body);
      const answer = answerFor(body);
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(completion(body, answer)));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const c of chunks(body, answer)) res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
