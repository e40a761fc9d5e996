// Test actor `as-testbed`: misbehaves on request, for the polyglot
// containment tests (host/tests/integration/polyglot.rs). Each failure must
// fail only its own call; the actor answers again afterwards.
//
// | method       | payload | reply / effect                                        |
// |--------------|---------|-------------------------------------------------------|
// | `count`      | ignored | increments the state key `n` and returns it           |
// | `trap`       | ignored | executes `unreachable` (a WebAssembly trap)           |
// | `throw`      | ignored | `throw new Error(...)`: AssemblyScript aborts (a trap) |
// | `spin`       | ignored | loops forever; the host interrupts it                 |
// | `alloc-bomb` | ignored | allocates 1 MiB buffers, keeping them, until memory runs out |
// | `publish`    | `{"pubsub","topic","data","contentType","metadata","count","fail","tolerate"}` | publishes `count` events (default 1); `{"ids":[…]}` |
// | `binding`    | `{"name","operation","data","metadata","fail","tolerate"}` | calls the output binding; `{"id":"…"}` |
// | `invoke`     | `{"appId","method","verb","data","contentType","tolerate"}` | calls the app; `{"data":"<body as text>","contentType":"…"}` |
// | `secret`     | `{"store","key","tolerate"}` | the secret's values as a JSON object |
//
// The four Dapr methods follow the contract of the Rust testbed
// (examples/testbed/src/lib.rs): event and binding data are the compact
// JSON of `data` (absent: `null`; with `count` above 1, event i carries
// `{"i":i,"data":<data>}`); `invoke` sends the JSON of `data` or an empty
// body, with `verb` (any case, default `post`); `fail` makes the calls and
// then fails the turn (`application` "deliberate failure"); a refused call
// fails the turn with `application` "<kind>: <message>", or with `tolerate`
// replies `{"error":{"kind","message"}}` and the turn commits.
//
// AssemblyScript guests import no WASI at all, so there is no way for one to
// try to open a file, read the environment or open a socket: the escape
// attempts of the suite are made by the TypeScript and Python testbeds.

import {
  Actor, ActorError, Ignored, JSON, Methods, ObjectReader, RawJson, Result, compactJson, dapr, err, ok, register, state,
} from "wapr-actor-as";

/** `data` of a payload: its compact JSON text, `null` when absent. */
function dataOf(r: ObjectReader): string {
  const raw = r.raw("data");
  return raw === null ? "null" : compactJson(raw);
}

/** Reads the members every Dapr method shares. */
class DaprReq {
  data: string = "null";
  dataGiven: bool = false;
  contentType: string = "";
  metadata: Map<string, string> | null = null;
  fail: bool = false;
  tolerate: bool = false;

  read(r: ObjectReader): ActorError | null {
    this.data = dataOf(r);
    this.dataGiven = r.has("data");
    const contentType = r.fieldOr<string>("contentType", "");
    if (contentType.isErr) return contentType.err;
    this.contentType = contentType.value;
    const metadata = r.field<Map<string, string> | null>("metadata");
    if (metadata.isErr) return metadata.err;
    this.metadata = metadata.value;
    const fail = r.fieldOr<bool>("fail", false);
    if (fail.isErr) return fail.err;
    this.fail = fail.value;
    const tolerate = r.fieldOr<bool>("tolerate", false);
    if (tolerate.isErr) return tolerate.err;
    this.tolerate = tolerate.value;
    return null;
  }
}

class PublishReq extends DaprReq {
  pubsub: string = "";
  topic: string = "";
  count: u32 = 1;

  decodeJson(r: ObjectReader): ActorError | null {
    const pubsub = r.field<string>("pubsub");
    if (pubsub.isErr) return pubsub.err;
    this.pubsub = pubsub.value;
    const topic = r.field<string>("topic");
    if (topic.isErr) return topic.err;
    this.topic = topic.value;
    const count = r.fieldOr<u32>("count", 1);
    if (count.isErr) return count.err;
    this.count = count.value;
    return this.read(r);
  }
}

class BindingReq extends DaprReq {
  name: string = "";
  operation: string = "";

  decodeJson(r: ObjectReader): ActorError | null {
    const name = r.field<string>("name");
    if (name.isErr) return name.err;
    this.name = name.value;
    const operation = r.field<string>("operation");
    if (operation.isErr) return operation.err;
    this.operation = operation.value;
    return this.read(r);
  }
}

class InvokeReq extends DaprReq {
  appId: string = "";
  method: string = "";
  verb: string = "post";

  decodeJson(r: ObjectReader): ActorError | null {
    const appId = r.field<string>("appId");
    if (appId.isErr) return appId.err;
    this.appId = appId.value;
    const method = r.field<string>("method");
    if (method.isErr) return method.err;
    this.method = method.value;
    const verb = r.fieldOr<string>("verb", "post");
    if (verb.isErr) return verb.err;
    this.verb = verb.value;
    return this.read(r);
  }
}

class SecretReq extends DaprReq {
  store: string = "";
  key: string = "";

  decodeJson(r: ObjectReader): ActorError | null {
    const store = r.field<string>("store");
    if (store.isErr) return store.err;
    this.store = store.value;
    const key = r.field<string>("key");
    if (key.isErr) return key.err;
    this.key = key.value;
    return this.read(r);
  }
}

/** A string as JSON. */
function quoted(s: string): string {
  return JSON.stringify<string>(s);
}

/** The reply to a refused call: the turn fails, or with `tolerate` the
 *  error is the reply. */
function refused(e: dapr.DaprError, tolerate: bool): Result<RawJson> {
  if (!tolerate) return err<RawJson>(e.toActorError());
  return ok<RawJson>(new RawJson(
    '{"error":{"kind":' + quoted(dapr.kindName(e.kind)) + ',"message":' + quoted(e.message) + "}}",
  ));
}

function deliberate(): Result<RawJson> {
  return err<RawJson>(ActorError.application("deliberate failure"));
}

/** State key of the call counter. */
const N = "n";

/** What `alloc-bomb` keeps, so nothing it allocates can be freed. */
const hog = new Array<ArrayBuffer>();

class Testbed extends Actor {
  count(): Result<i64> {
    const n = state.getOr<i64>(N, 0);
    if (n.isErr) return n;
    state.set<i64>(N, n.value + 1);
    return ok<i64>(n.value + 1);
  }

  trap(): Result<i64> {
    unreachable();
    return ok<i64>(0);
  }

  throwError(): Result<i64> {
    throw new Error("deliberate failure");
  }

  spin(): Result<i64> {
    let turns: i64 = 0;
    // `turns` is observable through the loop's exit condition, so the
    // optimiser cannot drop the loop; the condition never holds.
    while (turns >= 0) {
      turns++;
    }
    return ok<i64>(turns);
  }

  publish(req: PublishReq): Result<RawJson> {
    const ids = new Array<string>();
    for (let i: u32 = 0; i < req.count; i++) {
      const data = req.count > 1 ? '{"i":' + i.toString() + ',"data":' + req.data + "}" : req.data;
      const id = dapr.publishBytes(req.pubsub, req.topic, Uint8Array.wrap(String.UTF8.encode(data)), req.contentType, req.metadata);
      if (id.isErr) return refused(id.err, req.tolerate);
      ids.push(quoted(id.value));
    }
    if (req.fail) return deliberate();
    return ok<RawJson>(new RawJson('{"ids":[' + ids.join(",") + "]}"));
  }

  binding(req: BindingReq): Result<RawJson> {
    const id = dapr.binding(req.name, req.operation, Uint8Array.wrap(String.UTF8.encode(req.data)), req.metadata);
    if (id.isErr) return refused(id.err, req.tolerate);
    if (req.fail) return deliberate();
    return ok<RawJson>(new RawJson('{"id":' + quoted(id.value) + "}"));
  }

  invoke(req: InvokeReq): Result<RawJson> {
    const verb = dapr.parseVerb(req.verb);
    if (verb < 0) return err<RawJson>(ActorError.badRequest("unknown HTTP verb " + quoted(req.verb)));
    const body = req.dataGiven ? Uint8Array.wrap(String.UTF8.encode(req.data)) : new Uint8Array(0);
    const reply = dapr.invoke(req.appId, req.method, <dapr.HttpVerb>verb, body, req.contentType);
    if (reply.isErr) return refused(reply.err, req.tolerate);
    return ok<RawJson>(new RawJson(
      '{"data":' + quoted(reply.value.text()) + ',"contentType":' + quoted(reply.value.contentType) + "}",
    ));
  }

  secret(req: SecretReq): Result<RawJson> {
    const values = dapr.secret(req.store, req.key);
    if (values.isErr) return refused(values.err, req.tolerate);
    const names = values.value.keys();
    const members = new Array<string>();
    for (let i = 0; i < names.length; i++) {
      members.push(quoted(names[i]) + ":" + quoted(values.value.get(names[i])));
    }
    return ok<RawJson>(new RawJson("{" + members.join(",") + "}"));
  }

  allocBomb(): Result<i64> {
    // Ends only when an allocation aborts; the guard keeps the compiler's
    // return-path check satisfied.
    while (hog.length >= 0) {
      hog.push(new ArrayBuffer(1 << 20));
    }
    return ok<i64>(hog.length);
  }
}

register(
  new Methods<Testbed>()
    .method<Ignored, i64>("count", (t: Testbed, _: Ignored): Result<i64> => t.count())
    .method<Ignored, i64>("trap", (t: Testbed, _: Ignored): Result<i64> => t.trap())
    .method<Ignored, i64>("throw", (t: Testbed, _: Ignored): Result<i64> => t.throwError())
    .method<Ignored, i64>("spin", (t: Testbed, _: Ignored): Result<i64> => t.spin())
    .method<Ignored, i64>("alloc-bomb", (t: Testbed, _: Ignored): Result<i64> => t.allocBomb())
    .method<PublishReq, RawJson>("publish", (t: Testbed, req: PublishReq): Result<RawJson> => t.publish(req))
    .method<BindingReq, RawJson>("binding", (t: Testbed, req: BindingReq): Result<RawJson> => t.binding(req))
    .method<InvokeReq, RawJson>("invoke", (t: Testbed, req: InvokeReq): Result<RawJson> => t.invoke(req))
    .method<SecretReq, RawJson>("secret", (t: Testbed, req: SecretReq): Result<RawJson> => t.secret(req)),
);

export * from "wapr-actor-as/assembly/exports";
