#!/usr/bin/python3
"""Test clients for the msgsec-bridge suite (run with /usr/bin/python3).

  mqtt-pub  --port P --topic T [--count N] [--qos Q] [--prefix ID] [--size B] [--auth U:P]
            [--file F] [--content-type CT] [--correlation HEX] [--response-topic T]
            [--expiry S] [--user K=V]...
  mqtt-sub  --port P --topic FILTER[,FILTER...] --expect N [--timeout S] [--dump]
  amqp-send --url U --address A [--count N] [--prefix ID] [--file F] [--subject S]
            [--content-type CT] [--correlation HEX] [--reply-to R] [--ttl MS] [--prop K=V]...
  amqp-recv --url U --address A --expect N [--timeout S] [--idle S] [--dump]

Receivers print one JSON object: received, distinct, duplicates, missing (ids
of the form PREFIX-NNNNNN expected but absent, first 20), and with --dump the
messages (body as text, properties). Message ids are the payload's first
token, so duplicates (allowed: at-least-once) are counted, not failures.
"""
import argparse
import json
import re
import sys
import threading
import time

ID_RE = re.compile(rb"^([A-Za-z0-9_.:-]+-\d{6})")


def payload(prefix, i, size, fixed):
    if isinstance(fixed, list):  # --records: one record per message, in turn
        return fixed[i % len(fixed)]
    if fixed is not None:
        return fixed
    head = b"%s-%06d" % (prefix.encode(), i)
    return head + b" " + b"x" * max(0, size - len(head) - 1)


def load_records(path):
    """(4-byte big-endian length, bytes) records, as tests/bench/bench_plugin_load gen writes."""
    data, out, at = open(path, "rb").read(), [], 0
    while at + 4 <= len(data):
        n = int.from_bytes(data[at:at + 4], "big")
        out.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return out


def summary(bodies, expect, prefix, extra):
    ids = []
    for b in bodies:
        m = ID_RE.match(b)
        ids.append(m.group(1).decode() if m else b.decode(errors="replace"))
    distinct = set(ids)
    want = {"%s-%06d" % (prefix, i) for i in range(expect)} if prefix else set()
    missing = sorted(want - distinct)
    out = {"received": len(ids), "distinct": len(distinct), "duplicates": len(ids) - len(distinct),
           "missing_count": len(missing), "missing": missing[:20]}
    out.update(extra)
    return out


# ------------------------------------------------------------------ MQTT

def mqtt_client(args, cid):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
    if args.auth:
        c.username_pw_set(*args.auth.split(":", 1))
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", args.port, keepalive=30)
    return c


def mqtt_pub(args):
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    c = mqtt_client(args, "pub-%d" % time.time_ns())
    c.reconnect_delay_set(0.2, 2)
    done = threading.Event()
    acked = [0]
    lock = threading.Lock()

    def on_publish(client, userdata, mid):
        with lock:
            acked[0] += 1
            if acked[0] >= args.count:
                done.set()
    c.on_publish = on_publish
    c.loop_start()
    fixed = load_records(args.records) if args.records else open(args.file, "rb").read() if args.file else None
    props = Properties(PacketTypes.PUBLISH)
    has_props = False
    if args.content_type:
        props.ContentType = args.content_type
        has_props = True
    if args.correlation:
        props.CorrelationData = bytes.fromhex(args.correlation)
        has_props = True
    if args.response_topic:
        props.ResponseTopic = args.response_topic
        has_props = True
    if args.expiry:
        props.MessageExpiryInterval = args.expiry
        has_props = True
    for kv in args.user or []:
        k, v = kv.split("=", 1)
        props.UserProperty = (k, v)
        has_props = True
    start = time.time()
    for i in range(args.count):
        if args.rate:
            ahead = start + i / args.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        while True:
            info = c.publish(args.topic, payload(args.prefix, i, args.size, fixed), qos=args.qos,
                             properties=props if has_props else None)
            # not connected: paho keeps a QoS>0 message and sends it after reconnecting
            if info.rc == 0 or (info.rc == mqtt.MQTT_ERR_NO_CONN and args.qos > 0):
                break
            time.sleep(0.01)  # not connected / queue full: retry
    if args.qos == 0:
        done.set()
    if not done.wait(args.timeout):
        print(json.dumps({"published": args.count, "acked": acked[0], "error": "timeout"}))
        return 1
    secs = time.time() - start
    c.disconnect()
    c.loop_stop()
    print(json.dumps({"published": args.count, "acked": acked[0], "seconds": round(secs, 3),
                      "rate": round(args.count / secs, 1) if secs else 0}))
    return 0


def mqtt_sub(args):
    import paho.mqtt.client as mqtt
    from paho.mqtt.subscribeoptions import SubscribeOptions
    bodies, dumps = [], []
    lock = threading.Lock()
    last = [time.time()]
    # --session ID: persistent session (messages wait in the broker while we are away)
    c = mqtt.Client(client_id=args.session or "sub-%d" % time.time_ns(), protocol=mqtt.MQTTv5)
    c.reconnect_delay_set(0.2, 2)
    if args.auth:
        c.username_pw_set(*args.auth.split(":", 1))
    ready = threading.Event()

    def on_connect(client, userdata, flags, rc, properties=None):
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in args.topic.split(",")])

    def on_subscribe(client, userdata, mid, granted, properties=None):
        ready.set()

    def on_message(client, userdata, msg):
        with lock:
            bodies.append(msg.payload)
            last[0] = time.time()
            if args.dump:
                p = msg.properties
                d = {"topic": msg.topic, "qos": msg.qos, "body": msg.payload.decode(errors="replace")}
                for name in ("ContentType", "ResponseTopic", "MessageExpiryInterval"):
                    if hasattr(p, name):
                        d[name] = getattr(p, name)
                if hasattr(p, "CorrelationData"):
                    d["CorrelationData"] = p.CorrelationData.hex()
                if hasattr(p, "UserProperty"):
                    d["UserProperty"] = dict(p.UserProperty)
                dumps.append(d)
    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    if args.session:
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        cp = Properties(PacketTypes.CONNECT)
        cp.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", args.port, keepalive=30, clean_start=False, properties=cp)
    else:
        c.connect("127.0.0.1", args.port, keepalive=30)
    c.loop_start()
    ready.wait(10)
    if args.ready_file:
        open(args.ready_file, "w").write("ready\n")
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        with lock:
            n = len(set(bodies))
            idle = time.time() - last[0]
        if n >= args.expect and idle >= args.idle:
            break
        time.sleep(0.05)
    c.disconnect()
    c.loop_stop()
    with lock:
        print(json.dumps(summary(bodies, args.expect, args.prefix, {"messages": dumps} if args.dump else {})))
    return 0


# ------------------------------------------------------------------ AMQP

def amqp_send(args):
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import Container
    fixed = load_records(args.records) if args.records else open(args.file, "rb").read() if args.file else None

    class Send(MessagingHandler):
        def __init__(self):
            super().__init__()
            self.sent = self.confirmed = 0
            self.start = None

        def on_start(self, event):
            conn = event.container.connect(args.url)
            self.sender = event.container.create_sender(conn, args.address)
            self.container = event.container

        def on_sendable(self, event):
            if self.start is None:
                self.start = time.time()
            self.pump(event.sender)

        def on_timer_task(self, event):
            self.pump(self.sender)

        def pump(self, sender):
            while sender.credit and self.sent < args.count:
                if args.rate and self.sent >= (time.time() - self.start) * args.rate:
                    self.container.schedule(0.01, self)
                    return
                m = Message(body=payload(args.prefix, self.sent, args.size, fixed), durable=True)
                m.inferred = True  # data section
                if args.subject:
                    m.subject = args.subject
                if args.content_type:
                    m.content_type = args.content_type
                if args.correlation:
                    m.correlation_id = bytes.fromhex(args.correlation)
                if args.reply_to:
                    m.reply_to = args.reply_to
                if args.ttl:
                    m.ttl = args.ttl / 1000.0
                if args.prop:
                    m.properties = dict(kv.split("=", 1) for kv in args.prop)
                sender.send(m)
                self.sent += 1

        def on_accepted(self, event):
            self.confirmed += 1
            if self.confirmed == args.count:
                event.connection.close()

        def on_rejected(self, event):
            print("rejected", file=sys.stderr)
            event.connection.close()

    h = Send()
    Container(h).run()
    secs = time.time() - (h.start or time.time())
    print(json.dumps({"sent": h.sent, "confirmed": h.confirmed, "seconds": round(secs, 3),
                      "rate": round(h.confirmed / secs, 1) if secs else 0}))
    return 0 if h.confirmed == args.count else 1


def amqp_recv(args):
    from proton.handlers import MessagingHandler
    from proton.reactor import Container

    class Recv(MessagingHandler):
        def __init__(self):
            super().__init__(prefetch=500)
            self.bodies, self.dumps, self.ids = [], [], set()
            self.last = time.time()
            self.first = None
            self.deadline = time.time() + args.timeout

        def on_start(self, event):
            conn = event.container.connect(args.url)
            event.container.create_receiver(conn, args.address)
            event.container.schedule(0.1, self)
            self.container = event.container
            self.conn = conn

        def on_link_opened(self, event):
            if args.ready_file:
                open(args.ready_file, "w").write("ready\n")

        def on_message(self, event):
            m = event.message
            body = m.body if isinstance(m.body, (bytes, bytearray)) else str(m.body).encode()
            body = bytes(body)
            if self.first is None:
                self.first = time.time()
            self.bodies.append(body)
            mm = ID_RE.match(body)
            self.ids.add(mm.group(1) if mm else body)
            self.last = time.time()
            if args.dump:
                corr = m.correlation_id
                self.dumps.append({
                    "body": body.decode(errors="replace"), "subject": m.subject,
                    "content_type": m.content_type, "reply_to": m.reply_to,
                    "correlation_id": corr.hex() if isinstance(corr, (bytes, bytearray)) else corr,
                    "ttl_ms": int(round(m.ttl * 1000)) if m.ttl else 0,
                    "id": str(m.id) if m.id is not None else None,
                    "properties": {str(k): str(v) for k, v in (m.properties or {}).items()}})

        def on_timer_task(self, event):
            now = time.time()
            if (len(self.ids) >= args.expect and now - self.last >= args.idle) or now > self.deadline:
                self.conn.close()
                return
            self.container.schedule(0.1, self)

    h = Recv()
    Container(h).run()
    extra = {"messages": h.dumps} if args.dump else {}
    if h.first and len(h.bodies) > 1:
        extra["rate"] = round(len(h.bodies) / max(h.last - h.first, 1e-6), 1)
    print(json.dumps(summary(h.bodies, args.expect, args.prefix, extra)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("mqtt-pub", "mqtt-sub", "amqp-send", "amqp-recv"):
        p = sub.add_parser(name)
        p.add_argument("--prefix", default="m")
        p.add_argument("--count", type=int, default=1)
        p.add_argument("--expect", type=int, default=0)
        p.add_argument("--timeout", type=float, default=60)
        p.add_argument("--idle", type=float, default=0.5)
        p.add_argument("--size", type=int, default=0)
        p.add_argument("--file")
        p.add_argument("--records", help="message bodies: length-prefixed records (bench_plugin_load gen)")
        p.add_argument("--dump", action="store_true")
        p.add_argument("--ready-file")
        p.add_argument("--rate", type=float, default=0)
        p.add_argument("--content-type")
        p.add_argument("--correlation")
        if name.startswith("mqtt"):
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--topic", required=True)
            p.add_argument("--qos", type=int, default=1)
            p.add_argument("--response-topic")
            p.add_argument("--expiry", type=int)
            p.add_argument("--user", action="append")
            p.add_argument("--session")
            p.add_argument("--auth", help="USER:PASSWORD")
        else:
            p.add_argument("--url", required=True)
            p.add_argument("--address", required=True)
            p.add_argument("--subject")
            p.add_argument("--reply-to")
            p.add_argument("--ttl", type=int)
            p.add_argument("--prop", action="append")
    args = ap.parse_args()
    fn = {"mqtt-pub": mqtt_pub, "mqtt-sub": mqtt_sub, "amqp-send": amqp_send, "amqp-recv": amqp_recv}
    return fn[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
