"""Hostile payloads for an enforced topic.

usage: hostile.py files DIR VALID_ENVELOPE
           writes one file per hostile case into DIR; DIR/utf16 is
           VALID_ENVELOPE re-encoded as UTF-16 (the same signed message)
       hostile.py burst PORT TOPIC VALID_ENVELOPE COUNT CLIENT_ID
           publishes COUNT payloads (random bytes and random mutations of
           VALID_ENVELOPE) with QoS 1 and waits for every PUBACK
"""
import os
import random
import sys

rnd = random.Random(42)


def hostile_files(out, valid):
    os.makedirs(out, exist_ok=True)
    laughs = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10))
    cases = {
        "random": rnd.randbytes(65536),
        "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [' + laughs + b"]>"
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol9;'
        b"</s:Body></s:Envelope>",
        "external-entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
        b'"file:///etc/passwd">]><x>&e;</x>',
        "deep-nesting": b"<a>" * 200000 + b"</a>" * 200000,
        "oversize": b"<s:Envelope>" + b"x" * (2 * 1024 * 1024) + b"</s:Envelope>",
        "truncated": valid[: len(valid) // 2],
        "not-xml": b"\x00\x01\x02 not an envelope \xff\xfe",
        "wrong-root": b"<Envelope><Header/><Body/></Envelope>",
        "two-bodies": valid.replace(b"</s:Envelope>", b"<s:Body/></s:Envelope>"),
        "tampered-signature": valid.replace(b"<ds:SignatureValue>",
                                            b"<ds:SignatureValue>AAAA", 1),
        "utf16": valid.decode("utf-8").encode("utf-16"),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def burst(port, topic, valid, count, client_id):
    import paho.mqtt.client as mqtt

    acked = 0

    def on_publish(client, userdata, mid):
        nonlocal acked
        acked += 1

    client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_publish = on_publish
    client.max_inflight_messages_set(50)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for i in range(count):
        if i % 2:
            payload = rnd.randbytes(rnd.randint(1, 4096))
        else:
            b = bytearray(valid)
            for _ in range(rnd.randint(1, 8)):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            payload = bytes(b)
        client.publish(topic, payload, qos=1)
    for _ in range(600):
        if acked >= count:
            break
        import time
        time.sleep(0.1)
    client.disconnect()
    client.loop_stop()
    if acked != count:
        sys.exit("burst: %d of %d publishes acknowledged" % (acked, count))


if sys.argv[1] == "files":
    hostile_files(sys.argv[2], open(sys.argv[3], "rb").read())
else:
    burst(int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "rb").read(), int(sys.argv[5]),
          sys.argv[6])
