"""The seeds' own stack as a bench peer: python-socketio (Debian's python3-socketio) on
aiohttp, rooms as topics. POST /publish/<room> -> sio.emit("event", payload, room=room);
clients join ?room= on connect. Speaks the bench server protocol of common.mjs: one
BENCH_READY line on stdout, stop on SIGTERM or when stdin closes."""
import asyncio
import json
import signal
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[], logger=False, engineio_logger=False)
app = web.Application()
sio.attach(app)


@sio.event
async def connect(sid, environ, auth=None):
    query = environ.get("QUERY_STRING", "")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "room" and value:
            sio.enter_room(sid, value)


async def publish(request):
    room = request.match_info["room"]
    payload = json.loads(await request.read())
    await sio.emit("event", payload, room=room)
    return web.json_response({})


app.router.add_post("/publish/{room}", publish)


async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(4096) else None)
    sys.stdout.write("BENCH_READY " + json.dumps({"url": f"http://127.0.0.1:{port}"}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    await runner.cleanup()


asyncio.run(main())
