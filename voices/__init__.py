"""Voices: TTS engines behind one interface and voice profiles (samples, cached speaker latents)."""
