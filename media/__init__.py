"""Media plane: RTP, G.711/L16 codecs, framing and pacing, jitter buffer, resampling, crossfade, recording. Imports nothing above it."""
