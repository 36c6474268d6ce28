#!/usr/bin/python3
# A real RTSP camera for the tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0)
# on 127.0.0.1 serving an H.264 test pattern (videotestsrc ! x264enc ! rtph264pay), optionally
# behind basic auth so that a password in the camera URL is really used. `--first-frame-delay`
# holds back the first picture of every session for that many seconds, like a camera that is slow
# to set up (the server answers DESCRIBE only once a picture is encoded). Prints "ready <port>" on
# stdout once it listens; runs until SIGTERM. Run it with /usr/bin/python3, which has python3-gi.
import argparse
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--path', default='/stream')
    p.add_argument('--user')
    p.add_argument('--password')
    p.add_argument('--fps', type=int, default=10)
    p.add_argument('--size', default='160x120')
    p.add_argument('--first-frame-delay', type=float, default=0.0, help='seconds before the first picture of a session')
    return p.parse_args()


def pipeline(args):
    width, height = args.size.split('x')
    # The valve drops pictures before the encoder while closed: the first encoded picture after it
    # opens is a keyframe, so the delay is exactly the time the camera takes to "start".
    return (
        f'( videotestsrc is-live=true pattern=smpte ! video/x-raw,width={width},height={height},framerate={args.fps}/1 '
        f'! valve name=first-frame drop={"true" if args.first_frame_delay > 0 else "false"} '
        f'! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} '
        f'! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )


def open_valve_later(delay_s):
    def on_media_configure(_factory, media):
        valve = media.get_element().get_by_name('first-frame')
        GLib.timeout_add(int(delay_s * 1000), lambda: (valve.set_property('drop', False), False)[1])

    return on_media_configure


def main():
    args = parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(args))
    factory.set_shared(False)  # every session gets its own pipeline, so every session waits for its first frame
    if args.first_frame_delay > 0:
        factory.connect('media-configure', open_valve_later(args.first_frame_delay))

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, 'viewer')
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ''), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(Gst.Structure.new_from_string('viewer,media.factory.access=true,media.factory.construct=true'))
        factory.set_permissions(permissions)

    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f'cannot listen on 127.0.0.1:{args.port}')

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f'ready {server.get_bound_port()}', flush=True)
    loop.run()


if __name__ == '__main__':
    main()
