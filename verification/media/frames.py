"""FFmpeg filter graphs the video and photo code share: a frame turned
upright and scaled, and the frames a graph gives out."""

import av


def upright_graph(source: dict, rotation: int, width: int, height: int, pix_fmt: str = "yuv420p"):
    """A filter graph from a buffer described by `source` (a stream as
    template, or width, height, format and time base) that turns the picture
    upright (`rotation` degrees clockwise) and scales it to width×height."""
    graph = av.filter.Graph()
    chain = [graph.add_buffer(**source)]
    if rotation == 90:
        chain.append(graph.add("transpose", "clock"))
    elif rotation == 270:
        chain.append(graph.add("transpose", "cclock"))
    elif rotation == 180:
        chain.append(graph.add("transpose", "clock"))
        chain.append(graph.add("transpose", "clock"))
    chain.append(graph.add("scale", f"{width}:{height}"))
    chain.append(graph.add("format", pix_fmt))
    chain.append(graph.add("buffersink"))
    graph.link_nodes(*chain).configure()
    return graph


def pull_frames(graph):
    while True:
        try:
            yield graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
