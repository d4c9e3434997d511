#!/usr/bin/env python3
"""The original Flow Socket API example in Python, through the flowai C library (ctypes).

Connects, sends Jane Doe's "MY EVENT" event message to thread "jane.doe", prints the
acknowledgement and the bot's reply, and closes. Install the package first
(`pip install ./python`, which builds and bundles the library), then:

    FLOWAI_CLIENT_ID=... [FLOWAI_BASE_URL=https://sdk.flow.ai] python3 python/flowai_example.py

Against the local emulator (`cargo run -- emulator --port 8080`):

    FLOWAI_CLIENT_ID=local FLOWAI_BASE_URL=http://127.0.0.1:8080 python3 python/flowai_example.py

Set FLOWAI_LOG=info (or debug) to see the library's log records (reconnect attempts).
"""

import logging
import os
import sys

from flowai_socket import Client, FlowaiError, version

# The message of the original example, as the `message.send` payload.
JANE_DOE_EVENT = {
    "threadId": "jane.doe",
    "speech": "event attachment",
    "attachment": {"type": "event", "payload": {"name": "MY EVENT"}},
    "originator": {
        "name": "Jane Doe",
        "role": "external",
        "profile": {
            "fullName": "Jane Doe",
            "firstName": "Jane",
            "lastName": "Doe",
            "gender": "F",
            "locale": "en-US",
            "timezone": -5,
            "country": "us",
            "email": "jane.doe@example.com",
            "picture": "https://en.wikipedia.org/wiki/File:YellowLabradorLooking_new.jpg",
        },
        "metadata": {"clientNumber": "12345", "preference": "A,B,G"},
    },
}


def main() -> int:
    if not os.environ.get("FLOWAI_CLIENT_ID"):
        print("Set FLOWAI_CLIENT_ID (and FLOWAI_BASE_URL for a local emulator).", file=sys.stderr)
        return 2
    if os.environ.get("FLOWAI_LOG"):
        logging.basicConfig(level=os.environ["FLOWAI_LOG"].upper())
    print(f"flowai {version()}")
    try:
        with Client(thread_id="jane.doe", keepalive_ms=30000) as client:
            trace = client.send(JANE_DOE_EVENT)
            print(f"Sent event MY EVENT as Jane Doe (traceId {trace})")
            acked = replied = False
            while not (acked and replied):
                event = client.recv(timeout=15)
                if event is None:
                    print("no reply within 15 s", file=sys.stderr)
                    return 1
                if event.is_delivered and event.trace_id == trace:
                    acked = True
                    print(f"Delivered: traceId {event.trace_id} in thread {event.thread_id}")
                elif event.is_reply:
                    replied = True
                    print(f"Reply in thread {event.thread_id}: {event.text}")
                else:
                    print(f"Event {event.name}: {event.json}")
        print("Closed.")
    except FlowaiError as e:
        print(f"flowai error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
