#!/usr/bin/python3
"""tests/helpers/rtsp_camera.py — a test RTSP camera (GStreamer RTSP server).

Serves a live test pattern, H.264 in RTP, at rtsp://127.0.0.1:PORT/test, so
the agent's RTSP probe has a real camera to DESCRIBE.

    rtsp_camera.py PORT
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/test", factory)
if server.attach(None) == 0:
    sys.exit("rtsp_camera: cannot listen on 127.0.0.1:%s" % port)
print("rtsp camera at rtsp://127.0.0.1:%s/test" % port, flush=True)
GLib.MainLoop().run()
