"""Media plane: RTP, G.711/L16 codecs, framing and pacing, jitter buffer, resampling,
crossfade and recording. The bottom layer: imports nothing else of the project.
"""
